"""A write lease per asset, so that two runs never interleave their writes of one asset.

Dagster's concurrency pools (``dagster.yaml``) serialize the Glue-backed steps of runs that go
through this instance. The lease covers what they do not reach, such as two ``climate-assets
demo`` processes on one project at once: before launching its job, a Glue-backed asset takes a
PostgreSQL advisory lock named after the asset on the warehouse's server, on a connection of its
own whose ``application_name`` carries the run id. A second run waits for it up to a timeout and
then fails naming the run that holds it. PostgreSQL releases the lock when the connection ends,
so a run that dies (even by SIGKILL) leaves no lease behind.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

LOCK_CLASS = 0x636C696D  # "clim": the first key of every lease's two-key advisory lock
APPLICATION_PREFIX = "climate-lease:"
POLL_SECONDS = 1.0


class LeaseHeldError(Exception):
    """Another run held the lease for longer than the timeout."""


def lock_key(name: str) -> int:
    """The second key of the lease ``name``: a stable non-negative 31-bit hash."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


def lease_holder(conn: psycopg.Connection, name: str) -> str | None:
    """The run id that holds lease ``name`` (from its connection's application_name)."""
    row = conn.execute(
        """
        SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
          AND l.objsubid = 2
        """,
        (LOCK_CLASS, lock_key(name)),
    ).fetchone()
    if row is None:
        return None
    application = row[0] or ""
    return application.removeprefix(APPLICATION_PREFIX) or "(unknown run)"


@contextmanager
def lease(
    dsn: str,
    name: str,
    run_id: str,
    timeout_seconds: float,
    log=None,
    poll_seconds: float = POLL_SECONDS,
) -> Iterator[None]:
    """Hold lease ``name`` for run ``run_id``; wait for another holder up to the timeout."""
    conn = psycopg.connect(
        dsn, autocommit=True, application_name=f"{APPLICATION_PREFIX}{run_id}"[:63]
    )
    try:
        deadline = time.monotonic() + timeout_seconds
        waiting_for = None
        while not conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, lock_key(name))
        ).fetchone()[0]:
            holder = lease_holder(conn, name)
            if time.monotonic() >= deadline:
                raise LeaseHeldError(
                    f"run {holder} is writing {name}: this run ({run_id}) waited "
                    f"{timeout_seconds:g}s for it and gives up; run it again when {holder} ends"
                )
            if holder != waiting_for and log is not None:
                log.info(f"waiting for run {holder}, which is writing {name} (lease)")
            waiting_for = holder
            time.sleep(poll_seconds)
        yield
    finally:
        conn.close()  # ends the session: PostgreSQL releases the lock


@contextmanager
def asset_lease(
    context: dg.AssetExecutionContext, dsn: str, name: str, timeout_seconds: float
) -> Iterator[None]:
    """The lease of an asset for this run; a timeout fails the step (no retry) naming the holder."""
    try:
        with lease(dsn, name, context.run.run_id, timeout_seconds, log=context.log):
            yield
    except LeaseHeldError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
