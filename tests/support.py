"""Helpers the tests share: the whole graph run in-process through Dagster, and the job scripts
run directly (``main(argv)``, as the local Glue client calls them) on a lake and an embedded
PostgreSQL, for the bad-input catalog and the intake fuzzing."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from climate_glue.warehouse import COPY_APPLICATION_PREFIX, EMBEDDED_DATABASE
from psycopg import sql

from climate_assets.job_specs import JOB_SPECS
from climate_assets.settings import GLUE_SCRIPTS_DIR

DAY = "2024-07-01"
CASE_FILE = "zz_case.csv"  # sorts after the generated files: last in file order
# Job scripts by raw dataset ("derived": the derived metrics' job).
SCRIPTS = {spec.dataset or "derived": spec.script for spec in JOB_SPECS.values()}
TABLES = {
    "locations": "locations",
    "climate": "climate_data",
    "health": "health_data",
    "hospital": "hospital_data",
}
LINEAGE = ("_processed_at", "_run_id", "_source_file")


@contextmanager
def csv_fields_unlimited() -> Iterator[None]:
    """Python's csv module with no field size limit (131072 characters by default)."""
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def job_script(name: str):
    path = Path(GLUE_SCRIPTS_DIR, SCRIPTS[name])
    spec = importlib.util.spec_from_file_location(f"catalog_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Published:
    """A lake and an embedded PostgreSQL that the job scripts publish to, on one engine."""

    def __init__(self, state: Path, engine: str):
        self.state = state
        self.engine = engine
        self.lake = state / "lake"
        self.runs = 0

    def run(
        self, dataset: str, start: str = DAY, end: str = DAY, max_reject_rate: float = 1.0
    ) -> None:
        """Run a job. The catalog and the fuzzing test the rules and the intake, so by default
        no reject rate holds a day back (the 1% default would hold most cases' day of these
        three-location files); a case that tests the hold passes the threshold."""
        self.runs += 1
        argv = [
            "--lake-root", str(self.lake), "--run-id", f"catalog-{self.runs}",
            "--warehouse", f"pgserver:{self.state / 'pgdata'}", "--engine", self.engine,
            "--quality", json.dumps({"max_reject_rate": max_reject_rate}),
        ]  # fmt: skip
        if dataset != "locations":
            argv += ["--start-date", start, "--end-date", end]
        job_script(dataset).main(argv)

    def connect(self) -> psycopg.Connection:
        import pgserver

        return psycopg.connect(
            pgserver.get_server(self.state / "pgdata").get_uri(EMBEDDED_DATABASE)
        )

    def table(self, dataset: str, lineage: bool = True) -> list[tuple]:
        table = TABLES[dataset]
        with self.connect() as conn:
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                    " 'climate_health' AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
                if lineage or r[0] not in LINEAGE
            ]
            listed = sql.SQL(", ").join(map(sql.Identifier, columns))
            query = sql.SQL("SELECT {} FROM climate_health.{} ORDER BY {}").format(
                listed, sql.Identifier(table), listed
            )
            return conn.execute(query).fetchall()

    def processed_tree(self) -> dict[str, str]:
        root = self.lake / "processed"
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    def snapshot(self, dataset: str) -> tuple:
        return self.processed_tree(), self.table(dataset)

    def rejects(self, dataset: str) -> list[dict[str, str]]:
        folder = self.lake / (
            f"rejects/{dataset}/date={DAY}" if dataset != "locations" else "rejects/locations"
        )
        rows = []
        for path in sorted(folder.glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as handle, csv_fields_unlimited():
                rows += list(csv.DictReader(handle))
        return sorted(rows, key=lambda r: int(r["_row"]))

    def key(self, dataset: str, name: str = CASE_FILE) -> str:
        """The landing key of a file of ``dataset`` (on DAY, for a daily one)."""
        return (
            f"raw/{dataset}/{name}"
            if dataset == "locations"
            else f"raw/{dataset}/date={DAY}/{name}"
        )

    def raw(self, dataset: str, name: str = CASE_FILE) -> Path:
        return self.lake / self.key(dataset, name)

    def rows_of(self, dataset: str) -> list[list[str]]:
        with self.raw(dataset, f"{dataset}.csv").open(encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle))


def run_cli(env: dict[str, str], *args: str, timeout: float = 900):
    """Run the CLI; its output goes through files, not pipes: a process it leaves running (the
    embedded PostgreSQL, if pgserver does not stop it) would hold a pipe open and hang the read
    after the CLI itself has exited (seen once in CI: the demo exited 0, the read waited 900 s)."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        done = subprocess.run(
            [sys.executable, "-m", "climate_cli.cli", *args],
            env=env,
            stdout=out,
            stderr=err,
            text=True,
            timeout=timeout,
        )
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(done.args, done.returncode, out.read(), err.read())


def materialize_days(state_dir, start: str, end: str, asset_selection=None, instance=None):
    """Run the whole-graph job (or a selection of it) in-process for days start..end, with the
    project's resources on ``state_dir`` (on ``instance``, else a temporary one); return the
    result and the run's event log as text."""
    import os
    from contextlib import nullcontext

    import dagster as dg

    from climate_assets.constants import WHOLE_GRAPH_JOB
    from climate_assets.definitions import build_definitions
    from climate_assets.partitions import range_tags
    from climate_assets.settings import Settings

    previous = os.environ.get("CLIMATE_STATE_DIR")
    os.environ["CLIMATE_STATE_DIR"] = str(state_dir)
    try:
        job = build_definitions(Settings.from_env()).resolve_job_def(WHOLE_GRAPH_JOB)
        with nullcontext(instance) if instance else dg.instance_for_test() as instance:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=asset_selection,
                tags=range_tags(start, end),
                raise_on_error=False,
            )
            records = instance.get_records_for_run(result.run_id).records
            event_log = "\n".join(str(r.event_log_entry) for r in records)
    finally:
        if previous is None:
            os.environ.pop("CLIMATE_STATE_DIR")
        else:
            os.environ["CLIMATE_STATE_DIR"] = previous
    return result, event_log


EXTERNAL_PG_URL = os.environ.get(
    "CLIMATE_TEST_EXTERNAL_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class ConnectionSampler(threading.Thread):
    """Counts a job's COPY connections in pg_stat_activity until stopped; keeps the most."""

    def __init__(self, dsn: str, run_id: str):
        super().__init__(daemon=True)
        self._dsn, self._application = dsn, f"{COPY_APPLICATION_PREFIX}{run_id}"
        self._halt = threading.Event()
        self.most = 0
        self.samples = 0

    def run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._halt.is_set():
                (seen,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (self._application,),
                ).fetchone()
                self.most, self.samples = max(self.most, seen), self.samples + 1
                self._halt.wait(0.005)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.most
