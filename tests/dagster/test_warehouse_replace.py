"""The PostgreSQL load writes each row once and replaces a day (a range's days, a whole undated
table) in one transaction (``climate_glue.warehouse``), on the embedded PostgreSQL 16.

A reader running throughout a replace sees the old rows or the new ones, never a mix or
nothing; days held back by the audit, and days outside a range, keep their rows; a table made
unpartitioned by an older version is partitioned in place with its rows; a killed run's staging
is dropped by the next; the Spark engine loads the same rows as the DuckDB engine.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from climate_glue.contract import WAREHOUSE_SCHEMA
from climate_glue.copy_streams import CopySlots
from climate_glue.engines.duck import DuckDBEngine
from climate_glue.warehouse import (
    DAYS_SCHEMA,
    EMBEDDED_DATABASE,
    PUBLISH_LOCK_TIMEOUT,
    PublishBlockedError,
    _bound,
    _live_days,
    ensure_table,
    stage_load,
    stage_table_name,
)
from psycopg import sql

from climate_assets.resources.embedded_postgres import embedded_server
from climate_assets.resources.warehouse import ensure_database
from tests.support import ConnectionSampler

TYPES = {"id": "long", "date": "date", "version": "string"}
KEY = ("id", "date")
START = date(2024, 7, 1)
ROWS_PER_DAY = 2_000


def _days(first: int, count: int) -> list[date]:
    return [START + timedelta(days=first + i) for i in range(count)]


@pytest.fixture(scope="module")
def dsn(tmp_path_factory):
    server = embedded_server(str(tmp_path_factory.mktemp("replace") / "pgdata"))
    ensure_database(server.get_uri("postgres"), EMBEDDED_DATABASE)
    return server.get_uri(EMBEDDED_DATABASE)


@pytest.fixture
def engine():
    engine = DuckDBEngine()
    engine.copy_slots = CopySlots(2)
    yield engine
    engine.close()


def _frame(engine, days: list[date], version: str, rows: int = ROWS_PER_DAY):
    listed = ", ".join(f"(DATE '{d}')" for d in days)
    return engine.sql(
        f"SELECT CAST(i AS BIGINT) AS id, d AS date, '{version}' AS version"
        f" FROM range({rows}) t(i), (VALUES {listed}) v(d)"
    )


def _load(engine, dsn, table, days, version, run, publish=None, frame_days=None):
    """Stage ``version`` of ``days`` (the rows of ``frame_days`` when given) and publish
    ``publish`` of them (all of them unless given)."""
    frame = _frame(engine, frame_days or days or [START], version)
    staged = stage_load(engine, frame, dsn, table, TYPES, KEY, run, days)
    staged.publish(days if publish is None else publish)
    return staged


def _by_day(dsn, table) -> dict[date, tuple[int, tuple[str, ...]]]:
    """Per day: its rows and the versions among them."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            sql.SQL(
                "SELECT date, count(*), array_agg(DISTINCT version ORDER BY version)"
                " FROM {}.{} GROUP BY date ORDER BY date"
            ).format(sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table))
        ).fetchall()
    return {day: (rows, tuple(versions)) for day, rows, versions in found}


def _bounds(dsn, table: str) -> dict[str, list[date]]:
    """The live partitions of ``table`` and the days each holds."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        return {name: sorted(days) for name, days in _live_days(conn, table).items()}


def _tables(dsn, schema: str, like: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = %s AND table_name LIKE %s ORDER BY table_name",
                (schema, like),
            )
        ]


class Reader(threading.Thread):
    """Reads the table over and over until stopped; keeps every (rows, versions) it saw."""

    def __init__(self, dsn: str, table: str, where: str = "TRUE"):
        super().__init__(daemon=True)
        self._query = sql.SQL(
            "SELECT count(*), array_agg(DISTINCT version ORDER BY version) FROM {}.{} WHERE {}"
        ).format(sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table), sql.SQL(where))
        self._dsn, self._halt, self.seen = dsn, threading.Event(), []

    def run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._halt.is_set():
                rows, versions = conn.execute(self._query).fetchone()
                self.seen.append((rows, tuple(versions or ())))

    def stop(self) -> list[tuple[int, tuple[str, ...]]]:
        self._halt.set()
        self.join()
        return self.seen


def test_a_reader_during_replaces_sees_the_old_day_or_the_new_never_a_mix(engine, dsn):
    table, days = "readers_dated", _days(0, 2)
    _load(engine, dsn, table, days, "v0", "r0")
    reader = Reader(dsn, table, f"date = DATE '{days[0]}'")
    reader.start()
    for n in range(1, 6):
        _load(engine, dsn, table, days, f"v{n}", f"r{n}")
    seen = reader.stop()
    assert len(seen) > 5
    assert {s for s in seen} <= {(ROWS_PER_DAY, (f"v{n}",)) for n in range(6)}, seen
    assert seen[-1] == (ROWS_PER_DAY, ("v5",))
    assert _by_day(dsn, table) == {d: (ROWS_PER_DAY, ("v5",)) for d in days}
    # The two days are one live partition in DAYS_SCHEMA (a run's days of a month); nothing
    # staged is left.
    assert _tables(dsn, DAYS_SCHEMA, f"{table}%") == [f"{table}_20240701_20240702"]
    assert _tables(dsn, WAREHOUSE_SCHEMA, "\\_stage\\_%") == []
    assert _tables(dsn, DAYS_SCHEMA, "\\_stage\\_%") == []


def test_a_reader_during_replaces_of_an_undated_table_sees_old_or_new(engine, dsn):
    table = "readers_undated"
    _load(engine, dsn, table, None, "v0", "u0")
    reader = Reader(dsn, table)
    reader.start()
    for n in range(1, 6):
        _load(engine, dsn, table, None, f"v{n}", f"u{n}")
    seen = reader.stop()
    assert len(seen) > 5
    assert set(seen) <= {(ROWS_PER_DAY, (f"v{n}",)) for n in range(6)}, seen
    assert _by_day(dsn, table) == {START: (ROWS_PER_DAY, ("v5",))}


def test_held_back_days_and_a_discarded_stage_leave_the_live_rows_as_they_were(engine, dsn):
    table, days = "held", _days(0, 3)
    _load(engine, dsn, table, days, "old", "h0")
    # The audit held back the first day: the others are published, it keeps its rows.
    _load(engine, dsn, table, days, "new", "h1", publish=days[1:])
    assert _by_day(dsn, table) == {
        days[0]: (ROWS_PER_DAY, ("old",)),
        days[1]: (ROWS_PER_DAY, ("new",)),
        days[2]: (ROWS_PER_DAY, ("new",)),
    }
    # The first run's partition kept the held day; the second's holds only what it published.
    assert _bounds(dsn, table) == {
        f"{table}_20240701_20240703": [days[0]],
        f"{table}_20240702_20240703": days[1:],
    }
    # Everything held back: the staging is discarded, nothing live changes.
    staged = stage_load(engine, _frame(engine, days, "never"), dsn, table, TYPES, KEY, "h2", days)
    staged.discard()
    assert _by_day(dsn, table)[days[0]] == (ROWS_PER_DAY, ("old",))
    assert {v for _, (_, v) in _by_day(dsn, table).items()} == {("old",), ("new",)}
    assert _tables(dsn, DAYS_SCHEMA, "\\_stage\\_%") == []


@pytest.mark.parametrize("count", [1, 10])
def test_a_failed_replace_leaves_the_table_as_it_was(engine, dsn, count):
    """A duplicate key fails the load at its primary key (built after the COPY), before
    anything is published: for one day and for a range."""
    table, days = f"failing_{count}", _days(0, count)
    _load(engine, dsn, table, days, "old", "f0")
    doubled = engine.sql(
        f"SELECT * FROM {_frame(engine, days, 'bad').name}"
        f" UNION ALL SELECT * FROM {_frame(engine, days, 'bad', 1).name}"
    )
    with pytest.raises(psycopg.errors.UniqueViolation):
        stage_load(engine, doubled, dsn, table, TYPES, KEY, "f1", days)
    assert _by_day(dsn, table) == {d: (ROWS_PER_DAY, ("old",)) for d in days}
    assert _tables(dsn, WAREHOUSE_SCHEMA, "\\_stage\\_failing%") == []
    assert _tables(dsn, DAYS_SCHEMA, "\\_stage\\_failing%") == []


def test_every_contract_type_lands_as_it_was(engine, dsn):
    """The DuckDB engine's binary COPY lands each contract type's values as they were: NULLs,
    empty and awkward text, microseconds of a UTC timestamp; a frame column wider than the
    contract's (``count`` a BIGINT here) is cast to it."""
    types = {
        "id": "long",
        "date": "date",
        "text": "string",
        "real": "double",
        "count": "int",
        "flag": "bool",
        "at": "timestamp",
    }
    at = datetime(2024, 7, 1, 10, 11, 12, 345678, tzinfo=UTC)
    rows = [
        (1, START, 'a,"b"\nc\\N é', 1.5, 3, True, at),
        (2, START, "", -2.25, -2147483648, False, datetime(1970, 1, 1, tzinfo=UTC)),
        (3, START, None, None, None, None, None),
    ]
    ddl = "id bigint, date date, text string, real double, count bigint, flag boolean, at timestamp"
    staged = stage_load(engine, engine.frame(rows, ddl), dsn, "typed", types, KEY, "t1", [START])
    staged.publish([START])
    with psycopg.connect(dsn) as conn:
        found = conn.execute(f"SELECT * FROM {WAREHOUSE_SCHEMA}.typed ORDER BY id").fetchall()
    assert found == rows


def test_a_row_the_table_refuses_fails_the_load_naming_it(engine, dsn):
    """A NULL in a key column: the COPY fails, its error names the staged table and the column,
    and the run's staging is dropped."""
    frame = engine.sql(
        "SELECT CAST(NULL AS BIGINT) AS id, DATE '2024-07-01' AS date, 'x' AS version"
    )
    with pytest.raises(Exception, match="not-null constraint") as failed:
        stage_load(engine, frame, dsn, "nulls", TYPES, KEY, "n1", [START])
    assert '"id"' in str(failed.value) and "_stage_nulls_" in str(failed.value)
    assert _tables(dsn, WAREHOUSE_SCHEMA, "\\_stage\\_nulls%") == []


def test_a_range_run_replaces_exactly_its_days(engine, dsn):
    table = "ranged"
    _load(engine, dsn, table, _days(0, 10), "backfill", "g0")
    # Days 3..6, from a frame that also has rows of days 0 and 9 (not the run's: not published).
    _load(engine, dsn, table, _days(3, 4), "rerun", "g1", frame_days=_days(0, 10))
    found = _by_day(dsn, table)
    assert found == {
        d: (ROWS_PER_DAY, ("rerun",) if d in _days(3, 4) else ("backfill",)) for d in _days(0, 10)
    }
    # The backfill's partition gave up the rerun's days and kept its name.
    assert _bounds(dsn, table) == {
        f"{table}_20240701_20240710": _days(0, 3) + _days(7, 3),
        f"{table}_20240704_20240707": _days(3, 4),
    }


def test_a_range_is_a_live_partition_per_month_and_its_days_can_be_replaced_one_by_one(engine, dsn):
    table, days = "months", [date(2024, 6, 29) + timedelta(days=i) for i in range(4)]
    _load(engine, dsn, table, days, "range", "p0")
    assert _bounds(dsn, table) == {
        f"{table}_20240629_20240630": days[:2],
        f"{table}_20240701_20240702": days[2:],
    }
    # Each day again on its own, as the daily runs do: the month partitions give them up.
    for n, day in enumerate(days):
        _load(engine, dsn, table, [day], f"day{n}", f"p{n + 1}")
    assert _by_day(dsn, table) == {d: (ROWS_PER_DAY, (f"day{n}",)) for n, d in enumerate(days)}
    assert _bounds(dsn, table) == {f"{table}_{d:%Y%m%d}": [d] for d in days}
    # A range over them again: the day partitions are dropped, the range's months attached.
    _load(engine, dsn, table, days, "again", "p9")
    assert _bounds(dsn, table) == {
        f"{table}_20240629_20240630": days[:2],
        f"{table}_20240701_20240702": days[2:],
    }
    assert _by_day(dsn, table) == {d: (ROWS_PER_DAY, ("again",)) for d in days}


def test_a_staged_month_is_attached_without_reading_its_rows(engine, dsn):
    """The staged month that ``stage_load`` made carries the CHECK PostgreSQL needs to attach it
    without reading its rows: attached as ``publish`` attaches it (detached from the staging
    table, then to a table shaped as the live one, with its days' bound), PostgreSQL says so at
    DEBUG1. Rolled back afterwards."""
    table, days = "spared", _days(0, 31)
    staged = stage_load(engine, _frame(engine, days, "v"), dsn, table, TYPES, KEY, "s1", days)
    (month,) = [t for t in _tables(dsn, DAYS_SCHEMA, "\\_stage\\_spared%") if "other" not in t]
    notices: list[str] = []
    with psycopg.connect(dsn) as conn:
        conn.add_notice_handler(lambda notice: notices.append(notice.message_primary))
        with conn.transaction(force_rollback=True):
            live, part = sql.Identifier(WAREHOUSE_SCHEMA, table), sql.Identifier(DAYS_SCHEMA, month)
            conn.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    sql.Identifier(WAREHOUSE_SCHEMA, staged.stage_name), part
                )
            )
            conn.execute("SET LOCAL client_min_messages = debug1")
            conn.execute(
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(live, part, _bound(days))
            )
    staged.discard()
    assert any("is implied by existing constraints" in n and month in n for n in notices), notices


def _older_version_table(dsn, table: str, rows: str) -> None:
    """``table`` as an older version made it: a plain table, with the ``rows`` (a SELECT)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(DAYS_SCHEMA)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.{} (id bigint, date date, version text, PRIMARY KEY (id, date))"
            ).format(sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table))
        )
        conn.execute(
            sql.SQL("INSERT INTO {}.{} " + rows).format(
                sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table)
            )
        )


def _kind(dsn, table: str) -> str:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = %s::regclass",
            (f"{WAREHOUSE_SCHEMA}.{table}",),
        ).fetchone()[0]


def test_an_unpartitioned_table_of_an_older_version_is_partitioned_in_place(engine, dsn):
    table, days = "legacy", _days(0, 3)
    _older_version_table(
        dsn,
        table,
        "SELECT i, DATE '2024-07-01' + d, 'old'"
        " FROM generate_series(0, 999) i, generate_series(0, 2) d",
    )
    _load(engine, dsn, table, days[1:2], "new", "m1")
    assert _by_day(dsn, table) == {
        days[0]: (1000, ("old",)),
        days[1]: (ROWS_PER_DAY, ("new",)),
        days[2]: (1000, ("old",)),
    }
    assert _kind(dsn, table) == "p"
    assert _tables(dsn, WAREHOUSE_SCHEMA, f"{table}%") == [table]


def test_an_undated_table_of_an_older_version_is_partitioned_in_place(engine, dsn):
    table = "legacy_undated"
    _older_version_table(
        dsn, table, "SELECT i, DATE '2024-07-01', 'old' FROM generate_series(0, 999) i"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_table(conn, table, TYPES, KEY)
    assert _kind(dsn, table) == "p"
    assert _by_day(dsn, table) == {START: (1000, ("old",))}  # its rows kept
    assert _tables(dsn, DAYS_SCHEMA, f"{table}%") == [f"{table}_default"]
    _load(engine, dsn, table, None, "new", "mu1")
    assert _by_day(dsn, table) == {START: (ROWS_PER_DAY, ("new",))}
    assert _tables(dsn, WAREHOUSE_SCHEMA, f"{table}%") == [table]
    assert _tables(dsn, DAYS_SCHEMA, f"{table}%") == [f"{table}_default"]


@pytest.mark.parametrize("dated", [True, False], ids=["dated", "undated"])
def test_a_users_view_on_a_live_table_survives_publishes(engine, dsn, dated):
    """The live table keeps its identity (only its partitions are swapped): a view on it, made
    by a user between loads, still works after two publishes and shows the new rows."""
    table = f"viewed_{'dated' if dated else 'undated'}"
    days = _days(0, 2) if dated else None
    _load(engine, dsn, table, days, "v0", "w0")
    view = sql.Identifier(WAREHOUSE_SCHEMA, f"{table}_view")
    query = sql.SQL("SELECT version, count(*) FROM {} GROUP BY version").format(view)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
                view, sql.Identifier(WAREHOUSE_SCHEMA, table)
            )
        )
        assert conn.execute(query).fetchall() == [("v0", ROWS_PER_DAY * len(days or [1]))]
    for n in (1, 2):
        _load(engine, dsn, table, days, f"v{n}", f"w{n}")
        with psycopg.connect(dsn) as conn:
            assert conn.execute(query).fetchall() == [(f"v{n}", ROWS_PER_DAY * len(days or [1]))]


def test_a_killed_runs_staging_is_dropped_by_the_next_run(engine, dsn):
    table, days = "killed", _days(0, 2)
    stage_load(engine, _frame(engine, days, "dead"), dsn, table, TYPES, KEY, "dead-run", days)
    assert _tables(dsn, WAREHOUSE_SCHEMA, "\\_stage\\_killed%") == [
        stage_table_name(table, "dead-run")
    ]
    assert len(_tables(dsn, DAYS_SCHEMA, "\\_stage\\_killed%")) == 2  # the month and the others
    _load(engine, dsn, table, days, "next", "next-run")
    assert _tables(dsn, WAREHOUSE_SCHEMA, "\\_stage\\_killed%") == []
    assert _tables(dsn, DAYS_SCHEMA, "\\_stage\\_killed%") == []
    assert _by_day(dsn, table) == {d: (ROWS_PER_DAY, ("next",)) for d in days}


@pytest.mark.spark
def test_the_spark_engine_loads_the_same_rows(engine, dsn, spark):
    from climate_glue.engines.spark import SparkEngine

    days = _days(0, 3)
    _load(engine, dsn, "by_duckdb", days, "same", "d-duck")
    sparks = SparkEngine(spark)
    sparks.copy_slots = CopySlots(2)
    frame = sparks.register(
        spark.range(0, ROWS_PER_DAY, numPartitions=3)
        .crossJoin(spark.createDataFrame([(d,) for d in days], "date date"))
        .selectExpr("id", "date", "'same' AS version")
    )
    staged = stage_load(sparks, frame, dsn, "by_spark", TYPES, KEY, "d-spark", days)
    staged.publish(days)
    sparks.close()
    query = "SELECT id, date, version FROM {}.{} ORDER BY id, date"
    with psycopg.connect(dsn) as conn:
        by = {
            table: conn.execute(
                sql.SQL(query).format(sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table))
            ).fetchall()
            for table in ("by_duckdb", "by_spark")
        }
    assert len(by["by_spark"]) == ROWS_PER_DAY * len(days)
    assert by["by_spark"] == by["by_duckdb"]


@pytest.mark.parametrize("slots", [1, 2])
def test_the_duckdb_engine_copies_on_two_streams_within_the_jobs_bound(dsn, slots):
    engine = DuckDBEngine()
    engine.copy_slots = CopySlots(slots)
    days, run = _days(0, 1), f"streams-{slots}"
    frame = _frame(engine, days, "many", rows=400_000)
    watcher = ConnectionSampler(dsn, run)
    watcher.start()
    try:
        staged = stage_load(engine, frame, dsn, f"streams_{slots}", TYPES, KEY, run, days)
    finally:
        most = watcher.stop()
        engine.close()
    assert most == min(slots, DuckDBEngine.copy_streams)
    assert staged.rows == 400_000
    staged.publish(days)
    assert _by_day(dsn, f"streams_{slots}") == {days[0]: (400_000, ("many",))}


class TimedReader(threading.Thread):
    """Reads the table over and over on its own connection until stopped; keeps how long each
    read took (seconds) and what it saw."""

    def __init__(self, dsn: str, table: str):
        super().__init__(daemon=True)
        self._query = sql.SQL("SELECT array_agg(DISTINCT version) FROM {}").format(
            sql.Identifier(WAREHOUSE_SCHEMA, table)
        )
        self._dsn, self._halt, self.reads = dsn, threading.Event(), []

    def run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._halt.is_set():
                began = time.monotonic()
                (versions,) = conn.execute(self._query).fetchone()
                self.reads.append((time.monotonic() - began, tuple(versions)))
                self._halt.wait(0.05)

    def stop(self) -> list[tuple[float, tuple[str, ...]]]:
        self._halt.set()
        self.join()
        return self.reads


def _hold_read_lock(dsn: str, table: str) -> psycopg.Connection:
    """A connection inside a transaction that has read ``table`` (so holds its read lock)."""
    holder = psycopg.connect(dsn)
    holder.execute(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(WAREHOUSE_SCHEMA, table))
    )
    return holder


def test_a_long_reader_delays_a_publish_without_blocking_new_readers(engine, dsn):
    """A reader that keeps its transaction open holds the publish back; meanwhile other readers
    wait at most the lock timeout (the publish steps back and tries again); once the reader
    commits, the publish goes through."""
    table, days = "long_reader", _days(0, 1)
    _load(engine, dsn, table, days, "old", "l0")
    staged = stage_load(engine, _frame(engine, days, "new"), dsn, table, TYPES, KEY, "l1", days)
    holder = _hold_read_lock(dsn, table)
    reader = TimedReader(dsn, table)
    reader.start()
    failed: list[BaseException] = []

    def publish() -> None:
        try:
            staged.publish(days)
        except BaseException as error:
            failed.append(error)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    time.sleep(3 * PUBLISH_LOCK_TIMEOUT + 1)  # more than two attempts
    assert publisher.is_alive()  # held back by the reader
    holder.commit()
    holder.close()
    publisher.join(timeout=60)
    reads = reader.stop()
    assert not publisher.is_alive() and not failed, failed
    assert _by_day(dsn, table) == {days[0]: (ROWS_PER_DAY, ("new",))}
    # The other readers went on reading the old rows, each waiting about the lock timeout at
    # most (twice it, for a loaded machine), not the reader's whole hold (over three times it).
    slowest = max(seconds for seconds, _ in reads)
    assert slowest < 2 * PUBLISH_LOCK_TIMEOUT, slowest
    assert {versions for _, versions in reads} <= {("old",), ("new",)}
    assert sum(versions == ("old",) for _, versions in reads) > 10


def test_a_publish_held_back_every_attempt_fails_clearly_and_changes_nothing(engine, dsn):
    table, days = "never_free", _days(0, 1)
    _load(engine, dsn, table, days, "old", "n0")
    staged = stage_load(engine, _frame(engine, days, "new"), dsn, table, TYPES, KEY, "n1", days)
    holder = _hold_read_lock(dsn, table)
    try:
        with pytest.raises(PublishBlockedError) as raised:
            staged.publish(days, attempts=2)
    finally:
        holder.close()
    message = str(raised.value)
    assert "\n" not in message
    assert f"{WAREHOUSE_SCHEMA}.{table}" in message and "readers held" in message
    assert _by_day(dsn, table) == {days[0]: (ROWS_PER_DAY, ("old",))}
    # The staged rows are intact: once the reader is gone, the same stage publishes.
    staged.publish(days)
    assert _by_day(dsn, table) == {days[0]: (ROWS_PER_DAY, ("new",))}
