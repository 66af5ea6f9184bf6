"""The full-output floor: the same landing zone to every output the pipeline writes, in plain
DuckDB and psycopg, no orchestration (issue 21).

``python -m bench.floor_full --lake-root LAKE --state STATE --start D --end D [--json FILE]``

It applies the contract with the curated floor's SQL (``bench/floor_duckdb.py``: the row and
duplicate rules, the three formulas) and writes, under ``STATE/lake/`` in the pipeline's layout:

- ``processed/<asset>/`` Parquet per raw dataset (``locations/part-00000.parquet``; the daily
  ones by ``year=/month=/day=``), the contract columns and the lineage columns;
- ``curated/<asset>/`` Parquet, as the curated floor;
- ``exports/csv|json/<asset>/`` by day, the shared exports: small counts suppressed (contract
  section 4), timestamps as text as the pipeline writes them;
- the seven tables ``climate_health.<asset>`` in an embedded PostgreSQL (pgserver) on
  ``STATE/pgdata``, database ``climate`` as the pipeline's, each a plain table created with its
  primary key (the contract's columns and types; the pipeline's are partitioned by day so that
  a day is swapped in whole, which a floor does not need) and loaded with ``COPY`` over
  two connections side by side (the machine's 2 cores). The server starts in this process, as
  the pipeline's does, on a thread from the first moment, while DuckDB reads; the tables are
  loaded while the lake's files are written (the pipeline's job also runs its outputs side by
  side).

It leaves out what is not an output: the rejects (the benchmark's landing zones have none: the
generator writes only valid rows, for which the pipeline publishes an empty folder per day and a
header-only locations file; the floor's rules keep the valid rows and do not name the rule a
rejected row broke), the quality checks, Dagster, Pipes, staging and atomic publishing,
PostgreSQL staging tables and Athena. ``_processed_at`` and ``_run_id`` are the floor's own.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
from climate_glue.contract import (
    CLIMATE,
    CURATED_PREFIX,
    DERIVED,
    EXPORTS_PREFIX,
    HEALTH,
    HOSPITAL,
    LOCATIONS,
    POSTGRES_TYPES,
    PROCESSED_PREFIX,
    SUPPRESS_MAX,
    SUPPRESS_MIN,
    WAREHOUSE_SCHEMA,
)
from climate_glue.engines.duck import TEXT_TIMESTAMP
from climate_glue.warehouse import EMBEDDED_DATABASE
from psycopg import sql

from .floor_duckdb import FLOOR_RUN_ID, _lit, _q, derive, processed, write_curated

DATASETS = (LOCATIONS, CLIMATE, HEALTH, HOSPITAL)
EXPORT_FORMATS = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json"}
COPY_STREAMS = 2  # the machine's cores: two COPYs side by side
HIVE = "strftime(date, '%Y') AS year, strftime(date, '%m') AS month, strftime(date, '%d') AS day"


class Server(threading.Thread):
    """The embedded PostgreSQL started on a thread; ``dsn()`` waits for it."""

    def __init__(self, pgdata: Path):
        super().__init__(daemon=True)
        self.pgdata, self.error, self.uri = pgdata, None, None

    def run(self) -> None:
        try:
            with warnings.catch_warnings():  # as climate_assets.resources.warehouse does
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
                import pgserver

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = pgserver.get_server(self.pgdata)
            with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {EMBEDDED_DATABASE}")
            self.uri = server.get_uri(EMBEDDED_DATABASE)
        except BaseException as exc:  # reported by dsn(), on the main thread
            self.error = exc

    def dsn(self) -> str:
        self.join()
        if self.error is not None:
            raise RuntimeError(
                f"the embedded PostgreSQL on {self.pgdata} did not start: {self.error}"
            ) from self.error
        return self.uri


def _types(asset: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """An output's columns with contract types (lineage last) and its key."""
    spec = next(s for s in (*DATASETS, *DERIVED) if s.asset == asset)
    return spec.output_types, spec.key


def _stamped(con, asset: str, processed_at: datetime) -> None:
    """View ``out_<asset>``: the asset's rows with the lineage columns, as every output has."""
    types, _ = _types(asset)
    data = ", ".join(_q(c) for c in types if not c.startswith("_"))
    derived = asset in {s.asset for s in DERIVED}
    source = "'date=' || strftime(date, '%Y-%m-%d')" if derived else "_source_file"
    stamp = _lit(processed_at.isoformat())
    con.execute(
        f"CREATE OR REPLACE VIEW {_q('out_' + asset)} AS SELECT {data},"
        f" {source} AS _source_file, TIMESTAMPTZ {stamp} AS _processed_at,"
        f" {_lit(FLOOR_RUN_ID)} AS _run_id FROM {_q(asset)}"
    )


def write_processed(con, lake: Path) -> None:
    for dataset in DATASETS:
        target = lake / PROCESSED_PREFIX / dataset.asset
        source = _q("out_" + dataset.asset)
        if dataset.daily:
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT *, {HIVE} FROM {source}) TO {_lit(str(target))} (FORMAT parquet,"
                " COMPRESSION snappy, PARTITION_BY (year, month, day), OVERWRITE_OR_IGNORE true)"
            )
        else:
            target.mkdir(parents=True, exist_ok=True)
            path = _lit(str(target / "part-00000.parquet"))
            con.execute(f"COPY {source} TO {path} (FORMAT parquet, COMPRESSION snappy)")


def _shared(spec) -> str:
    """The asset's shared rows: a count of SUPPRESS_MIN..SUPPRESS_MAX and the columns computed
    from it null, the row flagged ``suppressed`` (contract section 4); timestamps as text."""
    small = {
        c: f"coalesce({_q(c)} BETWEEN {SUPPRESS_MIN} AND {SUPPRESS_MAX}, false)"
        for c in spec.suppress
    }
    hidden = {**small, **{c: small[n] for n, cs in spec.suppress.items() for c in cs}}
    columns = []
    for column, kind in spec.output_types.items():
        value = _q(column)
        if kind == "timestamp":
            value = f"strftime({value}, {_lit(TEXT_TIMESTAMP)})"
        if column in hidden:
            value = f"CASE WHEN NOT {hidden[column]} THEN {value} END"
        columns.append(f"{value} AS {_q(column)}")
    if small:
        columns.append(f"({' OR '.join(small.values())}) AS suppressed")
    return f"SELECT {', '.join(columns)}, {HIVE} FROM {_q('out_' + spec.asset)}"


def write_exports(con, lake: Path) -> None:
    for spec in DERIVED:
        for fmt, options in EXPORT_FORMATS.items():
            target = lake / EXPORTS_PREFIX / fmt / spec.asset
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY ({_shared(spec)}) TO {_lit(str(target))} ({options},"
                " PARTITION_BY (year, month, day), OVERWRITE_OR_IGNORE true)"
            )


def _copy_tables(con, dsn: str, spool: Path, tables: queue.Queue, loaded: dict) -> None:
    """One COPY stream: take the next table, spool its rows to CSV with DuckDB, COPY them in."""
    cursor = con.cursor()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            try:
                asset = tables.get_nowait()
            except queue.Empty:
                return
            types, _ = _types(asset)
            path = spool / f"{asset}.csv"
            cursor.execute(
                f"COPY {_q('out_' + asset)} TO {_lit(str(path))} (FORMAT csv, HEADER false)"
            )
            columns = ", ".join(_q(c) for c in types)
            statement = f"COPY {WAREHOUSE_SCHEMA}.{_q(asset)} ({columns}) FROM STDIN (FORMAT csv)"
            copying = conn.cursor()
            with copying.copy(statement) as copy_in, path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy_in.write(chunk)
            path.unlink()
            loaded[asset] = copying.rowcount  # the rows PostgreSQL took


def _plain_table(asset: str) -> sql.Composed:
    types, key = _types(asset)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(POSTGRES_TYPES[kind]))
        for c, kind in types.items()
    )
    return sql.SQL("CREATE TABLE {}.{} ({}, PRIMARY KEY ({}))").format(
        sql.Identifier(WAREHOUSE_SCHEMA),
        sql.Identifier(asset),
        columns,
        sql.SQL(", ").join(map(sql.Identifier, key)),
    )


def load_postgres(con, dsn: str, spool: Path) -> dict[str, int]:
    """The seven tables created with their keys, then loaded on COPY_STREAMS connections,
    largest first."""
    assets = [d.asset for d in DATASETS] + [s.asset for s in DERIVED]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(WAREHOUSE_SCHEMA))
        )
        for asset in assets:
            conn.execute(_plain_table(asset))
    cursor = con.cursor()  # this thread's own
    sizes = {a: cursor.execute(f"SELECT count(*) FROM {_q(a)}").fetchone()[0] for a in assets}
    tables: queue.Queue = queue.Queue()
    for asset in sorted(assets, key=lambda a: -sizes[a]):
        tables.put(asset)
    spool.mkdir(parents=True, exist_ok=True)
    loaded: dict[str, int] = {}
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            _copy_tables(con, dsn, spool, tables, loaded)
        except BaseException as exc:
            errors.append(exc)

    streams = [threading.Thread(target=stream) for _ in range(COPY_STREAMS)]
    for thread in streams:
        thread.start()
    for thread in streams:
        thread.join()
    if errors:
        raise errors[0]
    return {a: loaded[a] for a in assets}


def _load_when_ready(con, server: Server, spool: Path, timings: dict) -> dict[str, int]:
    """On a thread of its own: wait for the server (``wait``), then load it (``load``)."""
    mark = time.perf_counter()
    dsn = server.dsn()
    timings["wait"] = round(time.perf_counter() - mark, 3)
    mark = time.perf_counter()
    rows = load_postgres(con, dsn, spool)
    timings["load"] = round(time.perf_counter() - mark, 3)
    return rows


def run_full_floor(lake_root: Path, state: Path, start: date, end: date) -> dict:
    started = time.perf_counter()
    server = Server(state / "pgdata")
    server.start()
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    timings: dict[str, float] = {}

    cpu: dict[str, float] = {}
    last_cpu = [time.process_time()]

    def lap(stage: str, mark: float) -> float:
        """The stage's wall seconds, and the CPU seconds of this process (DuckDB's threads
        among them; not PostgreSQL's) over it."""
        now, now_cpu = time.perf_counter(), time.process_time()
        timings[stage] = round(now - mark, 3)
        cpu[stage] = round(now_cpu - last_cpu[0], 3)
        last_cpu[0] = now_cpu
        return now

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for dataset in DATASETS:
        processed(con, lake_root, dataset, None if not dataset.daily else days)
    mark = lap("read_validate", started)
    derive(con, days)
    processed_at = datetime.now(UTC)
    for asset in [d.asset for d in DATASETS] + [s.asset for s in DERIVED]:
        _stamped(con, asset, processed_at)
    mark = lap("derive", mark)
    lake, loads = state / "lake", {}
    with ThreadPoolExecutor(1) as pool:  # PostgreSQL side by side with the lake's files
        loading = pool.submit(_load_when_ready, con, server, state / "spool", loads)
        write_processed(con, lake)
        curated = write_curated(con, lake, processed_at)
        write_exports(con, lake)
        mark = lap("write_lake", mark)
        postgres = loading.result()
    lap("postgres_after_lake", mark)
    con.close()
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "stages": timings,
        "stages_cpu": cpu,
        "postgres_stages": loads,
        "valid_rows": {d.asset: postgres[d.asset] for d in DATASETS},
        "curated_rows": curated,
        "postgres_rows": postgres,
        "outputs": {
            "lake": str(lake),
            "curated": str(lake / CURATED_PREFIX),
            "pgdata": str(server.pgdata),
        },
        "duckdb": duckdb.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_full", description=__doc__)
    parser.add_argument("--lake-root", required=True, type=Path, help="the landing zone's lake")
    parser.add_argument("--state", required=True, type=Path, help="outputs: lake/ and pgdata/")
    parser.add_argument("--start", required=True, type=date.fromisoformat)
    parser.add_argument("--end", required=True, type=date.fromisoformat)
    parser.add_argument("--json", type=Path, help="write the summary here (else print it)")
    args = parser.parse_args(argv)
    summary = run_full_floor(args.lake_root, args.state, args.start, args.end)
    text = json.dumps(summary, indent=1)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
