"""Every command's failure to run, in one line: what failed, where, and what to do.

``cli.main`` runs every command in one handler: an exception that escapes a command becomes one
line on stderr (``failure_line``) and exit code ``EXIT_COULD_NOT_RUN``; the Python traceback
only with ``--debug`` or CLIMATE_DEBUG=1. ``environment_line`` knows the faults of the machine an
operator can fix (PostgreSQL unreachable or refusing, the lake or state folder missing or not
writable, a full disk, AWS credentials or a bucket missing); anything else is named by its type
and message.

Exit codes (docs/operating.md, Commands): 0 done; 1 the run ran but held data back (a
blocking check held a day, a file was quarantined, a check failed in ``check``) or the input
was refused (``upload``, ``export``); 2 wrong usage (argparse); 3 could not run.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

from climate_assets.settings import (
    ENV_LAKE_BUCKET,
    ENV_WAREHOUSE_URL,
    Settings,
    debug_requested,
)

EXIT_OK = 0
EXIT_HELD_BACK = 1
EXIT_USAGE = 2
EXIT_COULD_NOT_RUN = 3

_POSTGRES_ERRORS = {"OperationalError", "InterfaceError"}
_CREDENTIALS_ERRORS = {"NoCredentialsError", "PartialCredentialsError", "NoRegionError"}
_AWS_REFUSED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied"}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(lines[0].split()) if lines else type(exc).__name__


def _postgres_where() -> str:
    """The server the project uses, without a password, and the setting that names it."""
    url = os.environ.get(ENV_WAREHOUSE_URL)
    if not url:
        return f"the embedded PostgreSQL in {Settings.from_env().pgdata}"
    if "://" in url:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 5432} (database {parts.path.lstrip('/')}, set by {ENV_WAREHOUSE_URL})"
    return f"the server of {ENV_WAREHOUSE_URL}"


def _postgres_line(exc: BaseException) -> str:
    reason = _first_line(exc)
    if "does not exist" in reason or "authentication failed" in reason:
        todo = f"create the database or role, or fix {ENV_WAREHOUSE_URL}"
    else:
        todo = f"start the server, or point {ENV_WAREHOUSE_URL} at one that runs"
    return f"PostgreSQL at {_postgres_where()} refused or is unreachable ({reason}): {todo}"


def _os_line(exc: OSError) -> str | None:
    where = exc.filename or "the lake or state folder"
    if exc.errno == errno.ENOSPC:
        return f"the disk holding {where} is full (No space left on device): free space, then run again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"{where} is not writable ({exc.strerror}): fix its permissions, or point "
            "CLIMATE_STATE_DIR / CLIMATE_LAKE_ROOT at a writable folder"
        )
    if exc.errno == errno.ENOENT and exc.filename:
        return f"{where} does not exist: create it, or fix the setting or argument that names it"
    return None


def _aws_line(exc: BaseException) -> str | None:
    name = type(exc).__name__
    if name in _CREDENTIALS_ERRORS:
        return (
            f"AWS credentials or region not found ({_first_line(exc)}): set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and AWS_REGION, or run with an IAM role"
        )
    response = getattr(exc, "response", None)
    is_client_error = any(c.__name__ == "ClientError" for c in type(exc).__mro__)
    if not is_client_error or not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code", "")
    if code == "NoSuchBucket":
        bucket = response["Error"].get("BucketName", "?")
        return f"S3 bucket {bucket} does not exist: create it (`climate-assets deploy`), or fix {ENV_LAKE_BUCKET}"
    if code in _AWS_REFUSED:
        return f"AWS refused the request ({code}: {_first_line(exc)}): check the credentials and their IAM policy"
    return None


def environment_line(exc: BaseException) -> str | None:
    """The one line for a fault of the machine an operator can fix, or None if it is not one."""
    for error in _chain(exc):
        if type(error).__name__ in _POSTGRES_ERRORS and "psycopg" in type(error).__module__:
            return _postgres_line(error)
        aws = _aws_line(error)
        if aws:
            return aws
        if isinstance(error, OSError):
            line = _os_line(error)
            if line:
                return line
    return None


def failure_line(command: str, exc: Exception) -> str:
    """The line a command prints when ``exc`` stopped it (exit EXIT_COULD_NOT_RUN)."""
    line = environment_line(exc)
    if line is None:  # not a fault we know: its type and message, the traceback on request
        line = f"{type(exc).__name__}: {_first_line(exc)}"
        if not debug_requested():
            line += " (--debug or CLIMATE_DEBUG=1 shows the traceback)"
    return f"climate-assets {command}: {line}"
