"""The lake as the jobs see it: keys under a root, Spark paths for them, and atomic publishing.

A job names everything by key (``raw/climate/date=2024-01-01/a.csv``); ``spark_path`` turns a
key into what Spark reads and writes. Publishing is "write aside, then swap": Spark writes a
partition under ``_staging/<run>/...`` and ``publish`` moves it into place so that a reader
sees either the old partition or the new one, never a half-written one, and a job that dies
before the swap leaves the old one untouched. S3 has no atomic swap: ``S3Lake.publish`` says
what it does instead.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# renameat2(2) flag: atomically exchange two paths (Linux >= 3.15, glibc >= 2.28).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass(frozen=True)
class LakeObject:
    """One file of the lake as a listing shows it."""

    key: str
    size: int
    modified: float  # seconds since the epoch
    etag: str | None  # the content tag when the listing has it for free (S3), else None


@dataclass(frozen=True)
class Stray:
    """An entry of the lake that is not a regular file inside it (a symbolic link, a FIFO, a
    device): never read, written or moved through; the landing zone quarantines it."""

    key: str
    reason: str


@dataclass
class Listing:
    """What a listing found under a prefix: regular files, and entries that are not."""

    objects: list[LakeObject] = field(default_factory=list)
    strays: list[Stray] = field(default_factory=list)


class NotInLakeError(ValueError):
    """A key whose path passes through a symbolic link (or is not a regular file): reading,
    writing or moving through it could reach outside the lake."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def link_reason(path: Path) -> str:
    """Why a symbolic link is not read, naming where it points."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return (
        f"a symbolic link (to {target}): only regular files inside the lake are read; "
        "the link was not followed"
    )


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a device or other special file"


class Lake(Protocol):
    """What jobs, sensors and commands need of the lake; a local folder or an S3 prefix."""

    root: str

    def spark_path(self, key: str) -> str: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def list_objects(self, prefix: str) -> list[LakeObject]: ...

    def listing(self, prefix: str) -> Listing: ...

    def content_tag(self, key: str) -> str: ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def write_text(self, key: str, text: str) -> None: ...

    def move(self, src: str, dst: str) -> None: ...

    def list_dirs(self, prefix: str) -> list[str]: ...

    def exists(self, key: str) -> bool: ...

    def read_head(self, key: str, size: int) -> bytes: ...

    def size(self, key: str) -> int: ...

    def publish(self, staged: str, live: str) -> None: ...

    def delete(self, prefix: str) -> None: ...

    def make_empty(self, prefix: str) -> None: ...


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two existing paths; False where the filesystem or libc cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), f"{a} <-> {b}")


class LocalLake:
    """A lake in a local folder (the embedded default)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = str(Path(root).resolve())

    def path(self, key: str, last_may_be_link: bool = False) -> Path:
        """The file of ``key``; refused if it passes through a symbolic link below the root
        (the lake never follows one: it could lead anywhere on the machine). ``move`` may rename
        a link itself (``last_may_be_link``), which does not follow it."""
        key = key.strip("/")
        parts = Path(key).parts
        if ".." in parts:
            raise ValueError(f"lake key {key!r} must not contain '..'")
        current = Path(self.root)
        for depth, part in enumerate(parts, start=1):
            current = current / part
            if not current.is_symlink():
                continue
            if depth == len(parts) and last_may_be_link:
                break
            raise NotInLakeError("/".join(parts[:depth]), link_reason(current))
        return Path(self.root, key)

    def spark_path(self, key: str) -> str:
        # Not Path.as_uri(): it percent-encodes "=" and Hadoop paths take the text as it is.
        return f"file://{self.path(key)}"

    def listing(self, prefix: str) -> Listing:
        """Regular files under ``prefix`` (recursively) and, apart, every entry that is not one
        (a symbolic link, to a file or a folder, is reported and never followed), sorted."""
        found = Listing()
        try:
            base = self.path(prefix)
        except NotInLakeError as exc:
            found.strays.append(Stray(exc.key, exc.reason))
            return found
        if not base.is_dir():
            return found
        for folder, dirs, files in os.walk(base):  # never descends into a linked folder
            for name in sorted(dirs + files):
                path = Path(folder, name)
                key = str(path.relative_to(self.root))
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    found.strays.append(Stray(key, link_reason(path)))
                elif stat.S_ISREG(info.st_mode):
                    found.objects.append(LakeObject(key, info.st_size, info.st_mtime, None))
                elif not stat.S_ISDIR(info.st_mode):
                    found.strays.append(Stray(key, f"not a regular file ({_kind(info.st_mode)})"))
        found.objects.sort(key=lambda o: o.key)
        found.strays.sort(key=lambda s: s.key)
        return found

    def list_keys(self, prefix: str) -> list[str]:
        """Every regular file under ``prefix`` (recursively), as keys, sorted."""
        return [o.key for o in self.listing(prefix).objects]

    def list_objects(self, prefix: str) -> list[LakeObject]:
        """Every regular file under ``prefix`` with its size and modification time, sorted."""
        return self.listing(prefix).objects

    @contextmanager
    def _reading(self, key: str):
        # O_NOFOLLOW: a file swapped for a link since it was listed is refused, not followed.
        fd = os.open(self.path(key), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            yield handle

    def content_tag(self, key: str) -> str:
        """The MD5 of the file's bytes in hex (what S3 reports as the ETag of a simple upload)."""
        digest = hashlib.md5(usedforsecurity=False)
        with self._reading(key) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def read_bytes(self, key: str) -> bytes:
        with self._reading(key) as handle:
            return handle.read()

    @contextmanager
    def writing(self, key: str, mode: str = "wb", **options):
        """A handle whose file appears under ``key`` complete, when the block ends, or not at
        all. It replaces whatever entry had the key (a link is replaced, not written through)."""
        target = self.path(key, last_may_be_link=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        try:
            with open(fd, mode, **options) as handle:
                yield handle
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write a whole file; it appears under its key complete or not at all."""
        with self.writing(key) as handle:
            handle.write(data)

    def move(self, src: str, dst: str) -> None:
        """Move one entry to another key (replacing what is there). A link is moved as itself,
        never through."""
        target = self.path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(src, last_may_be_link=True), target)

    def list_dirs(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.is_symlink())

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def read_head(self, key: str, size: int) -> bytes:
        with self._reading(key) as handle:
            return handle.read(size)

    def size(self, key: str) -> int:
        return self.path(key).lstat().st_size

    def publish(self, staged: str, live: str) -> None:
        """Move the staged folder to ``live``, replacing what was there atomically.

        Where the kernel can exchange two paths, readers see the old or the new folder at every
        instant. Elsewhere the old folder is moved aside first and restored if the move fails.
        """
        src, dst = self.path(staged), self.path(live)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            os.rename(src, dst)
            return
        if _exchange(str(src), str(dst)):
            shutil.rmtree(src)  # now holds the old data
            return
        aside = dst.with_name(dst.name + ".old")
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(dst, aside)
        try:
            os.rename(src, dst)
        except OSError:
            os.rename(aside, dst)
            raise
        shutil.rmtree(aside)

    def delete(self, prefix: str) -> None:
        target = self.path(prefix)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def make_empty(self, prefix: str) -> None:
        self.path(prefix).mkdir(parents=True, exist_ok=True)

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))


S3_SCHEME = "s3://"
# Spark ignores files whose name starts with "_" or ".": a marker that keeps an emptied
# partition visible as a prefix without adding rows (S3 has no empty folders).
EMPTY_MARKER = "_EMPTY"
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


def _s3_client():
    from .aws import aws_client

    return aws_client("s3")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ("bucket", "some/prefix")."""
    if not uri.startswith(S3_SCHEME):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, prefix = uri[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI {uri!r} names no bucket")
    return bucket, prefix.strip("/")


class S3Lake:
    """A lake under an S3 prefix (AWS): the same keys as ``LocalLake``, stored as objects.

    Listings use the ``list_objects_v2`` paginator (any number of keys) and report the ETag as
    the content tag; ``read_head`` is a ranged GET. Moving is copy-then-delete.

    S3 has no atomic rename of a folder, so ``publish`` cannot swap a partition in one step as
    the local lake does. It copies every staged object over the live prefix (each object is
    replaced atomically), then deletes the live objects that the new set does not have, then
    the staged copy. Between the first copy and the last delete a reader listing the prefix can
    see new files beside old ones that are about to go: for Parquet partitions written by Spark
    (``part-<uuid>`` names) that means a reader may briefly count both. A job that dies before
    ``publish`` still leaves the live partition untouched, and a re-run repairs any partial
    publish, since it replaces the whole prefix again.
    """

    def __init__(self, root: str, client=None):
        self.bucket, self.prefix = split_s3_uri(root)
        self.root = f"{S3_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")
        self._client = client or _s3_client()

    def _key(self, key: str) -> str:
        key = key.strip("/")
        if ".." in key.split("/"):
            raise ValueError(f"lake key {key!r} must not contain '..'")
        return "/".join(part for part in (self.prefix, key) if part)

    def _folder(self, prefix: str) -> str:
        full = self._key(prefix)
        return f"{full}/" if full else ""

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def _pages(self, prefix: str, **extra):
        paginator = self._client.get_paginator("list_objects_v2")
        yield from paginator.paginate(Bucket=self.bucket, Prefix=self._folder(prefix), **extra)

    def _objects(self, prefix: str):
        for page in self._pages(prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):  # console-made "folder" objects
                    yield item

    def spark_path(self, key: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self._key(key)}"

    def list_keys(self, prefix: str) -> list[str]:
        """Every object under ``prefix``, as keys, sorted."""
        return sorted(self._relative(item["Key"]) for item in self._objects(prefix))

    def listing(self, prefix: str) -> Listing:
        """Every object under ``prefix``; S3 has no links or special files, so no strays."""
        return Listing(self.list_objects(prefix))

    def list_objects(self, prefix: str) -> list[LakeObject]:
        """Every object under ``prefix`` with size, modification time and ETag, sorted by key."""
        objects = [
            LakeObject(
                self._relative(item["Key"]),
                item["Size"],
                item["LastModified"].timestamp(),
                item["ETag"].strip('"'),
            )
            for item in self._objects(prefix)
        ]
        return sorted(objects, key=lambda o: o.key)

    def content_tag(self, key: str) -> str:
        """The object's ETag (the MD5 of its bytes for a single-part upload)."""
        return self._client.head_object(Bucket=self.bucket, Key=self._key(key))["ETag"].strip('"')

    def read_bytes(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write a whole object (S3 makes it visible complete or not at all)."""
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))

    def _copy(self, src_full: str, dst_full: str) -> None:
        # The managed copy switches to multipart for objects over 5 GB.
        self._client.copy({"Bucket": self.bucket, "Key": src_full}, self.bucket, dst_full)

    def _delete_keys(self, full_keys: list[str]) -> None:
        for start in range(0, len(full_keys), _DELETE_BATCH):
            batch = full_keys[start : start + _DELETE_BATCH]
            response = self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            if response.get("Errors"):
                first = response["Errors"][0]
                raise OSError(
                    f"could not delete {len(response['Errors'])} object(s) from s3://{self.bucket},"
                    f" first {first['Key']}: {first.get('Code')} {first.get('Message')}"
                )

    def move(self, src: str, dst: str) -> None:
        """Move one object to another key (replacing what is there): copy, then delete."""
        self._copy(self._key(src), self._key(dst))
        self._client.delete_object(Bucket=self.bucket, Key=self._key(src))

    def list_dirs(self, prefix: str) -> list[str]:
        names = []
        for page in self._pages(prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"].rstrip("/").rsplit("/", 1)[-1])
        return sorted(names)

    def _is_object(self, full_key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=full_key)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def exists(self, key: str) -> bool:
        """True for an object with this key, or for a prefix with at least one object under it."""
        page = self._client.list_objects_v2(Bucket=self.bucket, Prefix=self._folder(key), MaxKeys=1)
        return page.get("KeyCount", 0) > 0 or self._is_object(self._key(key))

    def read_head(self, key: str, size: int) -> bytes:
        """The first ``size`` bytes (fewer for a shorter object), with one ranged GET."""
        from botocore.exceptions import ClientError

        if size <= 0:
            return b""
        try:
            response = self._client.get_object(
                Bucket=self.bucket, Key=self._key(key), Range=f"bytes=0-{size - 1}"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "InvalidRange":  # an empty object
                return b""
            raise
        return response["Body"].read()[:size]

    def size(self, key: str) -> int:
        return self._client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]

    def publish(self, staged: str, live: str) -> None:
        """Copy the staged objects over ``live``, then delete live objects not in the new set.

        Not atomic (see the class docstring): every object is replaced atomically, but for a
        moment the prefix can hold new objects beside old ones that are about to be deleted.
        """
        staged_folder, live_folder = self._folder(staged), self._folder(live)
        new = [item["Key"][len(staged_folder) :] for item in self._objects(staged)]
        if not new:
            raise FileNotFoundError(f"nothing staged under {self.spark_path(staged)}")
        old = [item["Key"][len(live_folder) :] for item in self._objects(live)]
        for name in new:
            self._copy(staged_folder + name, live_folder + name)
        self._delete_keys([live_folder + name for name in sorted(set(old) - set(new))])
        self._delete_keys([staged_folder + name for name in new])

    def delete(self, prefix: str) -> None:
        """Delete the object ``prefix`` and every object under ``prefix/``."""
        keys = [item["Key"] for item in self._objects(prefix)]
        if self._is_object(self._key(prefix)):
            keys.append(self._key(prefix))
        self._delete_keys(keys)

    def make_empty(self, prefix: str) -> None:
        """An empty "folder": a marker object that Spark's readers skip (its name starts with _)."""
        self.write_bytes(f"{prefix.strip('/')}/{EMPTY_MARKER}", b"")


def open_lake(root: str) -> Lake:
    """The lake for a root URI: ``s3://bucket/prefix``, or a local folder (path or ``file://``)."""
    if root.startswith(S3_SCHEME):
        return S3Lake(root)
    if root.startswith("file://"):
        root = root[len("file://") :]
    return LocalLake(root)
