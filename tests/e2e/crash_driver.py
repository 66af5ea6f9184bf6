"""Run a job script and SIGKILL it at a named point (for ``tests/e2e/test_crash_points.py``).

    python -m tests.e2e.crash_driver POINT MARKER SCRIPT [job arguments...]

Test-side instrumentation only: the product's functions are wrapped in this process, and at
POINT the wrapper writes MARKER (JSON: the point, and what it saw) and SIGKILLs its whole
process group, as a machine losing the job would (the test starts it in a new session). At
``postgres_killed`` the embedded PostgreSQL's postmaster and its children are SIGKILLed first.
A job that ends without reaching POINT exits with status 3.

Points, in the order a job reaches them (``climate_glue.write_audit_publish.publish``):

- ``before_pg_replace``: everything is staged and audited, no table replaced yet;
- ``pg_uncommitted`` / ``postgres_killed``: inside a table's replace transaction, after its
  days are swapped (old partitions dropped, staged ones attached), before COMMIT;
- ``between_tables``: the first table is committed, the second not yet replaced (derived job);
- ``pg_committed``: right after the (last) table's COMMIT, before its staging table is dropped
  and before any lake partition is swapped;
- ``mid_lake_swap``: the first partition of the main output (``processed/`` or ``curated/``) is
  swapped, the next not;
- ``after_lake_swap``: every partition is swapped, the staging not yet removed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys

import psutil
import psycopg
from climate_glue import lake, warehouse, write_audit_publish
from psycopg import sql

POINTS = (
    "before_pg_replace",
    "pg_uncommitted",
    "postgres_killed",
    "between_tables",
    "pg_committed",
    "mid_lake_swap",
    "after_lake_swap",
)


def main(point: str, marker: str, script: str, argv: list[str]) -> None:
    if point not in POINTS:
        raise SystemExit(f"unknown kill point {point!r}")
    run_id = argv[argv.index("--run-id") + 1]
    pgdata = argv[argv.index("--warehouse") + 1].removeprefix("pgserver:")
    seen: dict = {"tables": 0, "main_partitions": 0, "publishing": None}

    def die(**note) -> None:
        with open(marker, "w") as handle:
            json.dump({"point": point, **note}, handle)
        if point == "postgres_killed":
            with open(os.path.join(pgdata, "postmaster.pid")) as handle:
                postmaster = psutil.Process(int(handle.readline()))
            for proc in [postmaster, *postmaster.children(recursive=True)]:
                proc.kill()
        os.killpg(os.getpgid(0), signal.SIGKILL)

    publish_table = warehouse.StagedTable.publish

    def staged_table_publish(self, days):
        seen["tables"] += 1
        if point == "before_pg_replace" or (point == "between_tables" and seen["tables"] == 2):
            die(table=self.name)
        seen["publishing"] = self
        try:
            return publish_table(self, days)
        finally:
            seen["publishing"] = None

    transaction_exit = psycopg.Transaction.__exit__

    def exit_transaction(self, exc_type, exc, tb):
        table = seen["publishing"]
        if table is None or exc_type is not None:
            return transaction_exit(self, exc_type, exc, tb)
        if point in ("pg_uncommitted", "postgres_killed"):
            # What this transaction sees: its own swap of the days, not yet committed.
            query = sql.SQL("SELECT count(*) FROM climate_health.{} WHERE _run_id = %s")
            rows = self.connection.execute(
                query.format(sql.Identifier(table.name)), (run_id,)
            ).fetchone()[0]
            die(table=table.name, uncommitted_rows=rows)
        result = transaction_exit(self, exc_type, exc, tb)
        if point == "pg_committed":
            die(table=table.name)
        return result

    publish_partition = lake.LocalLake.publish

    def lake_publish(self, staged, live):
        publish_partition(self, staged, live)
        if live.startswith(("processed/", "curated/")):
            seen["main_partitions"] += 1
            if point == "mid_lake_swap" and seen["main_partitions"] == 1:
                die(partition=live)

    discard_staging = write_audit_publish.discard_staging

    def discard(lake_, run_id_):
        if point == "after_lake_swap":
            die()
        discard_staging(lake_, run_id_)

    warehouse.StagedTable.publish = staged_table_publish
    psycopg.Transaction.__exit__ = exit_transaction
    lake.LocalLake.publish = lake_publish
    write_audit_publish.discard_staging = discard

    spec = importlib.util.spec_from_file_location("glue_job_crash", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(argv)
    raise SystemExit(3)  # the job ended without reaching the point


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
