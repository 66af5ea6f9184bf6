"""The full-output floor: the same landing zone to every output the pipeline writes, in plain
DuckDB, psycopg and ADBC, no orchestration (issue 21).

``python -m bench.floor_full --lake-root LAKE --state STATE --start D --end D [--json FILE]``

It applies the contract with the curated floor's SQL (``bench/floor_duckdb.py``: the row and
duplicate rules, the three formulas) and writes, under ``STATE/lake/`` in the pipeline's layout:

- ``processed/<asset>/`` Parquet per raw dataset (``locations/part-00000.parquet``; the daily
  ones by ``year=/month=/day=``), the contract columns and the lineage columns;
- ``curated/<asset>/`` Parquet, as the curated floor;
- ``exports/csv|json/<asset>/`` by day, the shared exports: small counts suppressed (contract
  section 4), timestamps as text as the pipeline writes them;
- the seven tables ``climate_health.<asset>`` in an embedded PostgreSQL (pgserver) on
  ``STATE/pgdata``, database ``climate`` as the pipeline's, each a plain table with the
  contract's columns and types and its primary key (the pipeline's are partitioned by day so
  that a day is swapped in whole, which a floor does not need). Each is loaded with a binary
  ``COPY`` from DuckDB's Arrow (ADBC), its key built after its rows are in, on two
  connections side by side (the machine's 2 cores). The server starts in this process, as
  the pipeline's does, on a thread from the first moment, while DuckDB reads; a table is
  loaded as soon as DuckDB has it, while the rest is computed and the lake's files are written
  (the pipeline's job also runs its outputs side by side).

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

import adbc_driver_manager
import adbc_driver_postgresql
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

from .floor_duckdb import (
    FLOOR_RUN_ID,
    FORMATS,
    HIVE,
    _lit,
    _q,
    copy_by_day,
    derive,
    processed,
    write_curated,
)

DATASETS = (LOCATIONS, CLIMATE, HEALTH, HOSPITAL)
ASSETS = [d.asset for d in DATASETS] + [s.asset for s in DERIVED]
COPY_STREAMS = 2  # the machine's cores: two COPYs side by side
INGEST_TARGET_TABLE = adbc_driver_manager.StatementOptions.INGEST_TARGET_TABLE.value
INGEST_SCHEMA = adbc_driver_manager.StatementOptions.INGEST_TARGET_DB_SCHEMA.value
INGEST_MODE = adbc_driver_manager.StatementOptions.INGEST_MODE.value
INGEST_APPEND = adbc_driver_manager.INGEST_OPTION_MODE_APPEND


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


def write_processed(con, lake: Path, days: list[date]) -> None:
    for dataset in DATASETS:
        target = lake / PROCESSED_PREFIX / dataset.asset
        source = _q("out_" + dataset.asset)
        if dataset.daily:
            copy_by_day(con, f"SELECT *, {HIVE} FROM {source}", target, "parquet", days)
        else:
            target.mkdir(parents=True, exist_ok=True)
            path = _lit(str(target / "part-00000.parquet"))
            con.execute(f"COPY {source} TO {path} ({FORMATS['parquet']})")


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


def write_exports(con, lake: Path, days: list[date]) -> None:
    for spec in DERIVED:
        for fmt in ("csv", "json"):
            copy_by_day(con, _shared(spec), lake / EXPORTS_PREFIX / fmt / spec.asset, fmt, days)


def _plain_table(asset: str) -> sql.Composed:
    """The table without its key: the key is built once its rows are in (``_add_key``)."""
    types, _ = _types(asset)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(POSTGRES_TYPES[kind]))
        for c, kind in types.items()
    )
    return sql.SQL("CREATE TABLE {}.{} ({})").format(
        sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(asset), columns
    )


def _add_key(asset: str) -> str:
    _, key = _types(asset)
    return (
        f"ALTER TABLE {WAREHOUSE_SCHEMA}.{_q(asset)}"
        f" ADD PRIMARY KEY ({', '.join(_q(k) for k in key)})"
    )


def _copy_tables(con, dsn: str, tables: queue.Queue, loaded: dict) -> None:
    """One COPY stream: take the next table queued, COPY its rows in binary (ADBC encodes
    DuckDB's Arrow stream: no text for either side to write or parse), then build its key
    (one sort, where a key kept up during the COPY is a B-tree insert per row). ADBC's plain
    API: its DB-API module imports pandas, a second of CPU."""
    cursor = con.cursor()  # this thread's own
    with (
        adbc_driver_postgresql.connect(dsn) as database,
        adbc_driver_manager.AdbcConnection(database) as conn,  # autocommit
        adbc_driver_manager.AdbcStatement(conn) as statement,
    ):
        while (asset := tables.get()) is not None:
            statement.set_options(**{
                INGEST_TARGET_TABLE: asset,
                INGEST_MODE: INGEST_APPEND,
                INGEST_SCHEMA: WAREHOUSE_SCHEMA,
            })  # fmt: skip
            statement.bind_stream(cursor.sql(f"SELECT * FROM {_q('out_' + asset)}"))
            loaded[asset] = statement.execute_update()
            statement.set_sql_query(_add_key(asset))
            statement.execute_update()


def load_postgres(con, server: Server, tables: queue.Queue, timings: dict) -> dict[str, int]:
    """On a thread of its own: wait for the server (``wait``), create the seven tables, and
    load them on COPY_STREAMS connections as the main thread queues them (``load``); a
    ``None`` in the queue ends a stream."""
    mark = time.perf_counter()
    dsn = server.dsn()
    timings["wait"] = round(time.perf_counter() - mark, 3)
    mark = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(WAREHOUSE_SCHEMA)))
        for asset in ASSETS:
            conn.execute(_plain_table(asset))
    loaded: dict[str, int] = {}
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            _copy_tables(con, dsn, tables, loaded)
        except BaseException as exc:
            errors.append(exc)

    streams = [threading.Thread(target=stream) for _ in range(COPY_STREAMS)]
    for thread in streams:
        thread.start()
    for thread in streams:
        thread.join()
    if errors:
        raise errors[0]
    timings["load"] = round(time.perf_counter() - mark, 3)
    return {a: loaded[a] for a in ASSETS}


def _queue_largest_first(con, tables: queue.Queue, assets: list[str]) -> None:
    sizes = {a: con.execute(f"SELECT count(*) FROM {_q(a)}").fetchone()[0] for a in assets}
    for asset in sorted(assets, key=lambda a: -sizes[a]):
        tables.put(asset)


class _Laps:
    """Each stage's wall seconds, and the CPU seconds of this process over it (DuckDB's threads
    among them; not PostgreSQL's)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last_cpu = time.process_time()

    def lap(self, stage: str, mark: float) -> float:
        now, now_cpu = time.perf_counter(), time.process_time()
        self.wall[stage] = round(now - mark, 3)
        self.cpu[stage] = round(now_cpu - self._last_cpu, 3)
        self._last_cpu = now_cpu
        return now


def run_full_floor(lake_root: Path, state: Path, start: date, end: date) -> dict:
    started = time.perf_counter()
    server = Server(state / "pgdata")
    server.start()
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    laps = _Laps()
    lap = laps.lap
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    lake, loads, tables = state / "lake", {}, queue.Queue()
    with ThreadPoolExecutor(1) as pool:  # PostgreSQL side by side with the rest
        loading = pool.submit(load_postgres, con, server, tables, loads)
        try:
            for dataset in DATASETS:
                processed(con, lake_root, dataset, None if not dataset.daily else days)
            processed_at = datetime.now(UTC)
            for dataset in DATASETS:
                _stamped(con, dataset.asset, processed_at)
            _queue_largest_first(con, tables, [d.asset for d in DATASETS])
            mark = lap("read_validate", started)
            derive(con, days)
            for spec in DERIVED:
                _stamped(con, spec.asset, processed_at)
            _queue_largest_first(con, tables, [s.asset for s in DERIVED])
            mark = lap("derive", mark)
        finally:
            for _ in range(COPY_STREAMS):
                tables.put(None)
        write_processed(con, lake, days)
        curated = write_curated(con, lake, processed_at, days)
        write_exports(con, lake, days)
        mark = lap("write_lake", mark)
        postgres = loading.result()
    lap("postgres_after_lake", mark)
    con.close()
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "stages": laps.wall,
        "stages_cpu": laps.cpu,
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
