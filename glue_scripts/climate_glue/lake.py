"""The lake as the jobs see it: keys under a root, Spark paths for them, and atomic publishing.

A job names everything by key (``raw/climate/date=2024-01-01/a.csv``); ``spark_path`` turns a
key into what Spark reads and writes. Publishing is "write aside, then swap": Spark writes a
partition under ``_staging/<run>/...`` and ``publish`` moves it into place so that a reader
sees either the old partition or the new one, never a half-written one, and a job that dies
before the swap leaves the old one untouched.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
from dataclasses import dataclass
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


class Lake(Protocol):
    """What jobs, sensors and commands need of the lake; a local folder or an S3 prefix."""

    root: str

    def spark_path(self, key: str) -> str: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def list_objects(self, prefix: str) -> list[LakeObject]: ...

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

    def path(self, key: str) -> Path:
        key = key.strip("/")
        if ".." in Path(key).parts:
            raise ValueError(f"lake key {key!r} must not contain '..'")
        return Path(self.root, key)

    def spark_path(self, key: str) -> str:
        # Not Path.as_uri(): it percent-encodes "=" and Hadoop paths take the text as it is.
        return f"file://{self.path(key)}"

    def list_keys(self, prefix: str) -> list[str]:
        """Every file under ``prefix`` (recursively), as keys, sorted."""
        base = self.path(prefix)
        if not base.is_dir():
            return []
        root = Path(self.root)
        return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file())

    def list_objects(self, prefix: str) -> list[LakeObject]:
        """Every file under ``prefix`` with its size and modification time, sorted by key."""
        base = self.path(prefix)
        if not base.is_dir():
            return []
        root = Path(self.root)
        objects = []
        for path in base.rglob("*"):
            stat = path.stat()
            if path.is_file():
                key = str(path.relative_to(root))
                objects.append(LakeObject(key, stat.st_size, stat.st_mtime, None))
        return sorted(objects, key=lambda o: o.key)

    def content_tag(self, key: str) -> str:
        """The MD5 of the file's bytes in hex (what S3 reports as the ETag of a simple upload)."""
        digest = hashlib.md5(usedforsecurity=False)
        with open(self.path(key), "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write a whole file; it appears under its key complete or not at all."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(data)
        os.replace(partial, target)

    def move(self, src: str, dst: str) -> None:
        """Move one file to another key (replacing what is there)."""
        target = self.path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(src), target)

    def list_dirs(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def read_head(self, key: str, size: int) -> bytes:
        with open(self.path(key), "rb") as handle:
            return handle.read(size)

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

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


def open_lake(root: str) -> Lake:
    """The lake for a root URI: a local folder, as a path or ``file://`` URI."""
    if root.startswith("file://"):
        root = root[len("file://") :]
    return LocalLake(root)
