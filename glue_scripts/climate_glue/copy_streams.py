"""The COPY streams one job may have open at once (``--copy-streams``), over all its loads.

Each stream is one PostgreSQL connection, so the bound keeps a job of 200 DPUs from exhausting
the server's ``max_connections``. The engine holds its job's ``CopySlots``; the warehouse's
loads take slots from it (``climate_glue.warehouse.stage_load``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

# The default bound of a job's concurrent COPY streams: this share of the connections the server
# has free when the job starts its first load (so jobs starting one after another leave room for
# each other: k jobs take 1 - (1 - share)^k of them), and never more than the cap, beyond which
# one table's COPY stops getting faster (each stream is one server backend, one CPU at most).
COPY_STREAMS_SHARE = 0.25
COPY_STREAMS_CAP = 16


def default_copy_streams(conn: psycopg.Connection) -> int:
    """``COPY_STREAMS_SHARE`` of the connections the server has free now (``max_connections``
    less those reserved for superusers and those in use), at least 1, at most the cap."""
    limit = int(conn.execute("SHOW max_connections").fetchone()[0])
    reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    in_use = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
    ).fetchone()[0]
    free = limit - reserved - in_use
    return max(1, min(COPY_STREAMS_CAP, int(free * COPY_STREAMS_SHARE)))


class CopySlots:
    """The COPY streams one job may have open at once, shared by all its loads.

    ``limit`` is the job's ``--copy-streams`` when given, else ``default_copy_streams`` of the
    server, read once (by the first load, on the driver). A load ``take``s up to what it can use
    and gets at least one slot, waiting for another load of the job to give its slots back.
    """

    def __init__(self, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"--copy-streams {limit}: at least 1 COPY stream is needed")
        self.limit = limit
        self._free = limit or 0
        self._changed = threading.Condition()

    def resolve(self, conn: psycopg.Connection) -> int:
        """The bound, read from the server the first time when none was given."""
        with self._changed:
            if self.limit is None:
                self.limit = self._free = default_copy_streams(conn)
            return self.limit

    @contextmanager
    def take(self, wanted: int) -> Iterator[int]:
        """Up to ``wanted`` slots (at least one) until the block ends; yields how many."""
        with self._changed:
            if self.limit is None:
                raise RuntimeError("CopySlots.resolve must run before take")
            self._changed.wait_for(lambda: self._free > 0)
            taken = min(max(wanted, 1), self._free)
            self._free -= taken
        try:
            yield taken
        finally:
            with self._changed:
                self._free += taken
                self._changed.notify_all()
