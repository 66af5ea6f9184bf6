"""Crash anywhere, recover by running again (issue 13): job scripts SIGKILLed at named points.

A module-scoped world publishes two days (2024-07-01..02) of every dataset and the derived
metrics with the real job scripts (``main(argv)``) on the DuckDB engine and an embedded
PostgreSQL: that is "before". The climate landing files are then changed (every maximum
temperature up 1.5 C, and one row a day that the rules reject), and reference runs of
process-climate-data and calculate-derived-metrics give "after". Both states are kept aside, so
each case starts from "before" exactly (a derived case with the climate data of "after", its
input).

Each case runs the job script in a child process (``tests/e2e/crash_driver.py``, in a session of
its own) that SIGKILLs its whole process group at one point of the job; one case kills the
embedded PostgreSQL (postmaster and backends) with it. After the kill, the contract:

- every lake partition (the processed or curated Parquet, the exports, the rejects) is exactly
  as before (the same files, byte for byte) or exactly as after (the reference run's rows, all
  from one run: the lineage columns differ by run, so rows are compared without them), never a
  mix within a partition;
- every PostgreSQL table's rows of each day are all as before or all as after.

PostgreSQL and the lake need not agree with each other: each table is replaced in one
transaction of its own, and only then are the lake partitions swapped, one by one. A kill after
a table's COMMIT and before or during the swap leaves that table "after" and (some) partitions
"before"; a kill between two tables' commits (the derived job) leaves one table "after" and the
next "before". The climate cases assert exactly which state each part is in; the derived ones,
that each part is before or after, and which tables are.

Then the next run, as the product's launch does it locally (``climate_assets.steps.launch``):
the warehouse resource starts or attaches the embedded server (one killed outright is started
again, its stale ``postmaster.pid`` handled), the staging folders of runs no longer running are
removed, and the job runs with a new run id (it drops the dead run's PostgreSQL staging table
itself). It must succeed, leave "after" everywhere, no ``_staging/`` folder and no ``_stage_*``
table.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import psutil
import psycopg
import pytest
from climate_glue.contract import (
    CLIMATE,
    CURATED_PREFIX,
    DERIVED,
    EXPORTS_PREFIX,
    LINEAGE_COLUMNS,
    PROCESSED_PREFIX,
    REJECTS_PREFIX,
    STAGING_PREFIX,
    WAREHOUSE_SCHEMA,
    date_partition,
    hive_partition,
)
from climate_glue.lake import LocalLake
from climate_glue.warehouse import DAYS_SCHEMA
from psycopg import sql

from climate_assets.resources.embedded_postgres import embedded_server_pid, stop_embedded_server
from climate_assets.resources.warehouse import LocalWarehouse
from climate_assets.settings import GLUE_SCRIPTS_DIR, PROJECT_ROOT
from climate_assets.steps.recovery import remove_stale_staging
from climate_cli.generate import generate_landing_zone
from tests.support import SCRIPTS

pytestmark = pytest.mark.e2e

DAYS = [date(2024, 7, 1), date(2024, 7, 2)]
# What each job under test publishes: its lake outputs (prefix, day layout) and its tables.
OUTPUTS = {
    "climate": [
        (f"{PROCESSED_PREFIX}/{CLIMATE.asset}", hive_partition),
        (f"{REJECTS_PREFIX}/{CLIMATE.name}", date_partition),
    ],
    "derived": [
        (prefix, hive_partition)
        for spec in DERIVED
        for prefix in (
            f"{CURATED_PREFIX}/{spec.asset}",
            f"{EXPORTS_PREFIX}/csv/{spec.asset}",
            f"{EXPORTS_PREFIX}/json/{spec.asset}",
        )
    ],
}
TABLES = {"climate": [CLIMATE.asset], "derived": [spec.asset for spec in DERIVED]}
BACKUP_SCHEMA = "crash_backup"


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read(path: Path) -> tuple[list[str], list[tuple]]:
    if path.suffix == ".parquet":
        reader = f"read_parquet('{path}')"
    elif path.suffix == ".csv":
        reader = f"read_csv('{path}', header = true, all_varchar = true)"
    else:
        reader = f"read_json_auto('{path}')"
    with duckdb.connect() as con:
        relation = con.sql(f"SELECT * FROM {reader}")
        return relation.columns, relation.fetchall()


def _without_lineage(columns: list[str], rows: list[tuple]) -> tuple[list[tuple], set]:
    """The rows without the lineage columns (sorted), and the run ids they carry."""
    kept = [i for i, c in enumerate(columns) if c not in LINEAGE_COLUMNS]
    run = columns.index("_run_id") if "_run_id" in columns else None
    runs = {row[run] for row in rows} if run is not None else set()
    return sorted((tuple(row[i] for i in kept) for row in rows), key=repr), runs


def _partition_rows(folder: Path) -> tuple[list[tuple], set]:
    rows, runs = [], set()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            kept, found = _without_lineage(*_read(path))
            rows += kept
            runs |= found
    return sorted(rows, key=repr), runs


class World:
    """The lake and the embedded PostgreSQL, with "before" and "after" kept aside."""

    def __init__(self, state: Path):
        self.state = state
        self.lake = state / "lake"
        self.pgdata = state / "pgdata"
        self.instance = dg.DagsterInstance.ephemeral()
        self.before_files: dict[str, dict[str, str]] = {}  # partition -> file digests
        self.before_rows: dict[str, list[tuple]] = {}  # table@day -> rows, lineage included
        self.after_rows: dict[str, list[tuple]] = {}  # partition or table@day -> rows, without

    def argv(self, job: str, run_id: str) -> list[str]:
        argv = [
            "--lake-root", str(self.lake), "--run-id", run_id,
            "--warehouse", f"pgserver:{self.pgdata}", "--engine", "duckdb",
            # One row a day is rejected on purpose: no reject rate holds a day back.
            "--quality", json.dumps({"max_reject_rate": 1.0}),
        ]  # fmt: skip
        if job != "locations":
            argv += ["--start-date", DAYS[0].isoformat(), "--end-date", DAYS[-1].isoformat()]
        return argv

    def run(self, job: str, run_id: str) -> None:
        """The job in this process, as the local Glue client runs it."""
        path = Path(GLUE_SCRIPTS_DIR, SCRIPTS[job])
        spec = importlib.util.spec_from_file_location(f"glue_job_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(self.argv(job, run_id))

    def start_warehouse(self) -> None:
        """What a run's warehouse resource does first: start or attach the embedded server."""
        LocalWarehouse(embedded_pgdata=str(self.pgdata)).setup_for_execution(
            dg.build_init_resource_context()
        )

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(LocalWarehouse(embedded_pgdata=str(self.pgdata)).dsn())

    # The parts a job publishes.

    def partitions(self, job: str) -> list[str]:
        return [f"{prefix}/{layout(day)}" for prefix, layout in OUTPUTS[job] for day in DAYS]

    def table_days(self, job: str) -> list[str]:
        return [f"{table}@{day.isoformat()}" for table in TABLES[job] for day in DAYS]

    def table_rows(self, table_day: str) -> tuple[list[str], list[tuple]]:
        table, day = table_day.split("@")
        with self.connect() as conn:
            cursor = conn.execute(
                sql.SQL("SELECT * FROM {}.{} WHERE date = %s").format(
                    sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table)
                ),
                (date.fromisoformat(day),),
            )
            return [c.name for c in cursor.description], cursor.fetchall()

    # Before and after, kept aside and put back.

    def keep(self, state: str) -> None:
        for job in OUTPUTS:
            for prefix, _ in OUTPUTS[job]:
                shutil.copytree(self.lake / prefix, self.state / state / prefix)
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(BACKUP_SCHEMA))
            )
            for table in (t for job in TABLES for t in TABLES[job]):
                conn.execute(
                    sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
                        sql.Identifier(BACKUP_SCHEMA, f"{table}_{state}"),
                        sql.Identifier(WAREHOUSE_SCHEMA, table),
                    )
                )

    def restore(self, states: dict[str, str]) -> None:
        """Put each job's outputs back as they were in ``states[job]`` ("before" or "after")."""
        for job, state in states.items():
            for prefix, _ in OUTPUTS[job]:
                shutil.rmtree(self.lake / prefix)
                shutil.copytree(self.state / state / prefix, self.lake / prefix)
            with self.connect() as conn, conn.transaction():
                for table in TABLES[job]:
                    live = sql.Identifier(WAREHOUSE_SCHEMA, table)
                    conn.execute(sql.SQL("DELETE FROM {}").format(live))
                    conn.execute(
                        sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                            live, sql.Identifier(BACKUP_SCHEMA, f"{table}_{state}")
                        )
                    )

    # What state each part is in.

    def observe(self, job: str) -> tuple[dict[str, str], set]:
        """ "before", "after" or "MIXED" for each partition and table-day of ``job``, and the
        run ids of the "after" ones."""
        seen, runs = {}, set()
        for partition in self.partitions(job):
            folder = self.lake / partition
            if folder.is_dir() and _digests(folder) == self.before_files[partition]:
                seen[partition] = "before"
                continue
            rows, found = _partition_rows(folder) if folder.is_dir() else (None, set())
            after = rows == self.after_rows[partition] and len(found) <= 1
            seen[partition] = "after" if after else "MIXED"
            runs |= found
        for table_day in self.table_days(job):
            columns, rows = self.table_rows(table_day)
            if sorted(rows, key=repr) == self.before_rows[table_day]:
                seen[table_day] = "before"
                continue
            kept, found = _without_lineage(columns, rows)
            after = kept == self.after_rows[table_day] and len(found) == 1
            seen[table_day] = "after" if after else "MIXED"
            runs |= found
        return seen, runs

    def staging_tables(self, schema: str = WAREHOUSE_SCHEMA) -> list[str]:
        """The staging tables (in ``DAYS_SCHEMA``: their staged days)."""
        with self.connect() as conn:
            return [
                name
                for (name,) in conn.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = %s AND table_name LIKE %s",
                    (schema, "\\_stage\\_%"),
                )
            ]


def _after_climate(text: str) -> str:
    """Every maximum temperature up 1.5 C, and a row of an unknown location (a reject)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        row["temp_max_c"] = f"{float(row['temp_max_c']) + 1.5:.1f}"
    rows.append({**rows[0], "location_id": "99999"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    state = tmp_path_factory.mktemp("crash")
    generate_landing_zone(state / "lake", locations=3, days=2, start=DAYS[0], seed=5)
    world = World(state)
    world.start_warehouse()
    try:
        for job in SCRIPTS:
            world.run(job, f"before-{job}")
        world.keep("before")
        plain = {}  # the before rows without lineage, to tell what the change changed
        for job in ("climate", "derived"):
            for partition in world.partitions(job):
                world.before_files[partition] = _digests(world.lake / partition)
                plain[partition] = _partition_rows(world.lake / partition)[0]
            for table_day in world.table_days(job):
                columns, rows = world.table_rows(table_day)
                world.before_rows[table_day] = sorted(rows, key=repr)
                plain[table_day] = _without_lineage(columns, rows)[0]

        for day in DAYS:
            raw = world.lake / f"raw/{CLIMATE.name}/date={day.isoformat()}/{CLIMATE.name}.csv"
            raw.write_text(_after_climate(raw.read_text(encoding="utf-8")), encoding="utf-8")
        for job in ("climate", "derived"):
            world.run(job, f"after-{job}")
        world.keep("after")
        for job in ("climate", "derived"):
            for partition in world.partitions(job):
                world.after_rows[partition] = _partition_rows(world.lake / partition)[0]
            for table_day in world.table_days(job):
                world.after_rows[table_day] = _without_lineage(*world.table_rows(table_day))[0]
        # The change reaches every part of the climate job and the derived tables that read
        # climate (hospital_resources does not), so a mix of before and after would show.
        changed = {part for part, rows in world.after_rows.items() if rows != plain[part]}
        assert set(world.partitions("climate")) | set(world.table_days("climate")) <= changed
        assert {p for p in plain if "hospital_resources" not in p} <= changed
        yield world
    finally:
        stop_embedded_server(world.pgdata)


def _kill(world: World, job: str, point: str, run_id: str) -> dict:
    """Run ``job`` in a child process that SIGKILLs its process group at ``point``."""
    marker = world.state / f"{run_id}.json"
    # Where imports are not cached (PYTHONDONTWRITEBYTECODE), each child would compile numpy,
    # pyarrow, pandas... anew: the children share a bytecode cache in the test's folder.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(world.state / "pycache")
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.e2e.crash_driver",
            point,
            str(marker),
            str(Path(GLUE_SCRIPTS_DIR, SCRIPTS[job])),
            *world.argv(job, run_id),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-4000:]
    return json.loads(marker.read_text())


def _next_run(world: World, job: str, dead: str, run_id: str) -> None:
    """The next run after the kill succeeds, publishes "after" everywhere and leaves nothing
    of the dead run (or its own staging) behind."""
    removed = remove_stale_staging(LocalLake(world.lake), world.instance, run_id)
    assert removed == [dead]
    world.run(job, run_id)
    seen, runs = world.observe(job)
    assert set(seen.values()) == {"after"}, seen
    assert runs == {run_id}
    assert LocalLake(world.lake).list_dirs(STAGING_PREFIX) == []
    assert world.staging_tables() == []
    assert world.staging_tables(DAYS_SCHEMA) == []


def _everything(world: World, job: str, state: str) -> dict[str, str]:
    return dict.fromkeys([*world.partitions(job), *world.table_days(job)], state)


PROCESSED = f"{PROCESSED_PREFIX}/{CLIMATE.asset}"
REJECTS = f"{REJECTS_PREFIX}/{CLIMATE.name}"


@pytest.mark.parametrize(
    ("point", "table", "lake_after", "stage_table_left"),
    [
        # Staged and audited, nothing replaced: all as before.
        pytest.param("before_pg_replace", "before", [], True, id="before_pg_replace"),
        # Inside the replace transaction, the days swapped: rolled back with the session.
        pytest.param("pg_uncommitted", "before", [], True, id="pg_uncommitted"),
        # Committed: the table is after, the lake still before (they disagree until the next run).
        pytest.param("pg_committed", "after", [], True, id="pg_committed"),
        # The rejects (published first), then the first processed day swapped: the second is not.
        pytest.param(
            "mid_lake_swap",
            "after",
            [
                f"{REJECTS}/date=2024-07-01",
                f"{REJECTS}/date=2024-07-02",
                f"{PROCESSED}/year=2024/month=07/day=01",
            ],
            False,
            id="mid_lake_swap",
        ),
        # Every partition swapped, the staging folder not yet removed.
        pytest.param(
            "after_lake_swap",
            "after",
            [f"{prefix}/{layout(day)}" for prefix, layout in OUTPUTS["climate"] for day in DAYS],
            False,
            id="after_lake_swap",
        ),
    ],
)
def test_a_killed_climate_run_leaves_each_part_before_or_after(
    world, point, table, lake_after, stage_table_left
):
    world.restore({"climate": "before"})
    dead = f"dead-{point}".replace("_", "-")
    note = _kill(world, "climate", point, dead)
    assert note["point"] == point
    if point == "pg_uncommitted":
        assert note["uncommitted_rows"] > 0  # the kill came after the swap

    world.start_warehouse()
    expected = _everything(world, "climate", "before")
    expected.update(dict.fromkeys(world.table_days("climate"), table))
    expected.update(dict.fromkeys(lake_after, "after"))
    seen, runs = world.observe("climate")
    assert seen == expected
    assert runs <= {dead}
    assert LocalLake(world.lake).list_dirs(STAGING_PREFIX) == [dead]  # left behind
    assert bool(world.staging_tables()) == stage_table_left

    _next_run(world, "climate", dead, f"next-{dead}")


def test_a_run_killed_with_the_embedded_postgresql_recovers(world):
    """SIGKILL of the job and of the embedded server (postmaster and backends) inside the
    replace transaction: the server starts again past its stale postmaster.pid, the table is as
    before (the transaction never committed), and the next run succeeds."""
    world.restore({"climate": "before"})
    killed = embedded_server_pid(world.pgdata)
    note = _kill(world, "climate", "postgres_killed", "dead-postgres")
    assert note["uncommitted_rows"] > 0
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(killed).wait(timeout=10)
    assert embedded_server_pid(world.pgdata) is None  # the server is down...
    assert (world.pgdata / "postmaster.pid").exists()  # ...and its lock file stale

    world.start_warehouse()
    assert embedded_server_pid(world.pgdata) not in (None, killed)
    seen, _ = world.observe("climate")
    assert seen == _everything(world, "climate", "before")
    # The dead run's staging table (its days in DAYS_SCHEMA) survives the crash: the next run
    # drops it.
    assert world.staging_tables() == ["_stage_climate_data_dead-postgres"]
    assert len(world.staging_tables(DAYS_SCHEMA)) == 2  # its days (one month), and the others

    _next_run(world, "climate", "dead-postgres", "next-dead-postgres")


@pytest.mark.parametrize("point", ["between_tables", "mid_lake_swap"])
def test_a_killed_derived_run_leaves_each_part_before_or_after(world, point):
    """The derived job replaces three tables, one transaction each, then swaps 18 partitions
    (curated Parquet, CSV and JSON exports of two days): killed between two tables' commits,
    the first table is after and the others before; killed during the swap, every table is
    after and the partitions are each before or after."""
    world.restore({"climate": "after", "derived": "before"})
    dead = f"dead-derived-{point}".replace("_", "-")
    assert _kill(world, "derived", point, dead)["point"] == point

    world.start_warehouse()
    seen, runs = world.observe("derived")
    assert "MIXED" not in seen.values(), seen
    assert runs <= {dead}
    tables = {
        t: {seen[td] for td in world.table_days("derived") if td.startswith(f"{t}@")}
        for t in TABLES["derived"]
    }
    partitions = {p: seen[p] for p in world.partitions("derived")}
    if point == "between_tables":
        assert sorted(map(sorted, tables.values())) == [["after"], ["before"], ["before"]], tables
        assert set(partitions.values()) == {"before"}
    else:
        assert all(states == {"after"} for states in tables.values()), tables
        assert set(partitions.values()) == {"before", "after"}, partitions
    assert LocalLake(world.lake).list_dirs(STAGING_PREFIX) == [dead]

    _next_run(world, "derived", dead, f"next-{dead}")
