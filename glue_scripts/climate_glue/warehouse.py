"""Loading a frame into PostgreSQL: each row written once, then one replace transaction.

A dated live table is partitioned by date (``PARTITION BY LIST (date)``), its partitions in
schema ``DAYS_SCHEMA``: each holds days of one calendar month, the days of that month that one
run published (a day's run: that day; a range's run: up to a month per partition). The engine
COPYs its Arrow batches, cast to the contract's types, into the run's staging table (the Spark
engine as CSV from its tasks, each over its own connection; the DuckDB engine in binary through
ADBC, on ``DuckDBEngine.copy_streams`` streams): ``stage_load``, within the job's bound on COPY
streams (``copy_streams.CopySlots``). For a dated table the staging table is itself partitioned,
one regular table per month of the run's days (``day_groups``), shaped as a live partition, with
a CHECK matching its bound; its primary key is built after the load. Nothing live changes until
the job's blocking checks have passed on its staged outputs; then ``StagedTable.publish``
replaces the published days in one transaction: a live partition holding only replaced days is
dropped, one that also holds other days gives up the replaced days' rows (detached, their rows
deleted, attached again for the days it keeps: a scan of at most a month), and each staged
month is detached from the staging table (after dropping the rows of days the audit held back)
and attached to the live table: no row is copied and the CHECK spares the attach its scan. An
undated table (partitioned by its first key column, all its rows in its one DEFAULT partition)
swaps that partition the same way. The live table itself is never dropped or renamed, so a
user's views and grants on it stay. Readers see the old rows until it commits (they wait for
its lock while it runs), and a failure anywhere leaves the table as it was. It waits at most
``PUBLISH_LOCK_TIMEOUT`` for queries already reading the table (new readers queue behind it
meanwhile), then rolls back, pauses and tries again, a bounded number of times. The job drops
its staging tables when it ends (``drop_stages``); a killed job's are dropped by the next run of
the same job. A table made by an older version (unpartitioned) is partitioned in place, its rows
kept, in one transaction, by the first load that finds it; partitions of one day each, made by
an older version, are replaced the same way as any other.

Why a month and not a day per partition: PostgreSQL's fixed cost per partition, measured in
docs/design.md ("PostgreSQL: each row written once").

Why (measured: docs/design.md, "PostgreSQL: each row written once"): staging into an unlogged
table and then DELETE and INSERT ... SELECT wrote every row twice, logged every live row and
maintained the index row by row.

The job learns where the warehouse is from a *reference*, never from a credential in its
arguments: ``env:NAME`` (a libpq URL in the job's environment), ``pgserver:PATH`` (the embedded
server with that data folder) or ``secretsmanager:SECRET_ID`` (an RDS secret, on AWS), optionally
followed by ``?host=...&port=...&dbname=...&sslmode=...`` where the secret does not say where the
database is (a secret that RDS manages holds only the username and password).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

import psycopg
from psycopg import sql

from .contract import POSTGRES_TYPES, SPARK_TYPES, WAREHOUSE_SCHEMA

if TYPE_CHECKING:
    from .engines import Engine, Frame

EMBEDDED_DATABASE = "climate"
# Every COPY stream's connection is named so (with the job's run id) in pg_stat_activity.
COPY_APPLICATION_PREFIX = "climate-copy:"
# The day partitions of the live tables, and of the staging tables (kept out of WAREHOUSE_SCHEMA,
# which lists one table per asset).
DAYS_SCHEMA = f"{WAREHOUSE_SCHEMA}_days"
PARTITION_COLUMN = "date"
# A publish waits at most this long (seconds) for the live table's readers (new readers queue
# behind it while it waits), then rolls back, pauses (PUBLISH_BACKOFF seconds, doubled each time
# up to PUBLISH_BACKOFF_MOST) and tries again: PUBLISH_ATTEMPTS times in all.
PUBLISH_LOCK_TIMEOUT = 2.0
PUBLISH_BACKOFF = 1.0
PUBLISH_BACKOFF_MOST = 30.0
PUBLISH_ATTEMPTS = 8


def resolve_dsn(reference: str) -> str:
    """The libpq connection string that a warehouse reference points to."""
    scheme, _, value = reference.partition(":")
    if scheme == "env":
        dsn = os.environ.get(value)
        if not dsn:
            raise ValueError(
                f"warehouse reference {reference!r}: environment variable {value} is not set"
            )
        return dsn.replace("postgresql+psycopg2://", "postgresql://")
    if scheme == "pgserver":
        import pgserver  # the embedded default only

        return pgserver.get_server(value).get_uri(EMBEDDED_DATABASE)
    if scheme == "secretsmanager":
        return _dsn_from_secret(value)
    raise ValueError(
        f"unknown warehouse reference {reference!r} (env:, pgserver: or secretsmanager:)"
    )


SECRET_REQUIRED_KEYS = ("host", "username", "password")
# What a ``secretsmanager:`` reference may give after ``?``: where the database is and how to
# reach it. Not secret.
REFERENCE_KEYS = ("host", "port", "dbname", "sslmode")


def secret_reference(secret_id: str, **where: str | int | None) -> str:
    """``secretsmanager:SECRET_ID``, with ``?host=...&port=...`` for those of REFERENCE_KEYS given."""
    unknown = set(where) - set(REFERENCE_KEYS)
    if unknown:
        raise ValueError(f"a secret reference takes {', '.join(REFERENCE_KEYS)}, not {unknown}")
    given = {key: str(value) for key, value in where.items() if value not in (None, "")}
    return f"secretsmanager:{secret_id}" + (f"?{urlencode(given)}" if given else "")


def _dsn_from_secret(value: str) -> str:
    """The connection string of an RDS secret (JSON: username, password, and host, port, dbname
    and sslmode (default ``require``) unless the reference gives them, which win). Read
    inside the job, so the password is never in a job argument; errors name the secret and the
    keys, never a value."""
    from .aws import aws_client

    secret_id, _, query = value.partition("?")
    where = dict(parse_qsl(query))
    unknown = sorted(set(where) - set(REFERENCE_KEYS))
    if unknown:
        raise ValueError(
            f"warehouse reference for secret {secret_id!r}: unknown {', '.join(unknown)}"
            f" (expected {', '.join(REFERENCE_KEYS)})"
        )
    text = aws_client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        secret = {**json.loads(text), **where}
    except json.JSONDecodeError:
        raise ValueError(f"secret {secret_id!r} is not JSON (expected an RDS secret)") from None
    missing = [key for key in SECRET_REQUIRED_KEYS if not secret.get(key)]
    if missing:
        raise ValueError(
            f"secret {secret_id!r} has no {', '.join(missing)}, and the reference gives none"
        )
    return psycopg.conninfo.make_conninfo(
        host=secret["host"],
        port=str(secret.get("port") or 5432),
        user=secret["username"],
        password=secret["password"],
        dbname=secret.get("dbname") or EMBEDDED_DATABASE,
        sslmode=secret.get("sslmode") or "require",
    )


def _table(name: str, schema: str = WAREHOUSE_SCHEMA) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _day(name: str) -> sql.Composed:
    return _table(name, DAYS_SCHEMA)


def _statements(statements: list[sql.Composable]) -> sql.Composed:
    """Several statements sent as one (one round trip; one transaction when autocommit)."""
    return sql.SQL("; ").join(statements)


def day_groups(days: Iterable[date]) -> list[tuple[date, ...]]:
    """Days as a dated table stores them: the days of one calendar month together, in order."""
    ordered = sorted(set(days))
    return [
        tuple(group) for _, group in itertools.groupby(ordered, key=lambda d: (d.year, d.month))
    ]


def live_partition_name(name: str, days: Sequence[date], taken: Collection[str] = ()) -> str:
    """The live partition of ``name`` holding ``days`` (in ``DAYS_SCHEMA``), named by its first
    and last day (``<name>_<YYYYMMDD>`` for one day); ``_2``, ``_3``... where ``taken`` has the
    name (a partition that gave up some of its days keeps the name it had)."""
    first, last = min(days), max(days)
    base = f"{name}_{first:%Y%m%d}" + (f"_{last:%Y%m%d}" if last != first else "")
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}_{number}"
    return candidate


def whole_partition_name(name: str) -> str:
    """The one partition (DEFAULT) of the undated table ``name``, holding all its rows (in
    ``DAYS_SCHEMA``)."""
    return f"{name}_default"


def _bound(days: Sequence[date] | None) -> sql.Composable:
    """The partition bound of ``days``; ``None``: the DEFAULT partition (an undated table's)."""
    if days is None:
        return sql.SQL("DEFAULT")
    return sql.SQL("FOR VALUES IN ({})").format(sql.SQL(", ").join(map(sql.Literal, days)))


def _among(days: Iterable[date]) -> sql.Composed:
    """``date = ANY(ARRAY[...])``: the rows of ``days``. As a CHECK on a table, it is the
    partition constraint of ``_bound(days)``, which PostgreSQL then proves without a scan when
    the table is attached (it proves such arrays up to 100 days: a month's always are)."""
    array = sql.SQL(", ").join(map(sql.Literal, days))
    return sql.SQL("{} = ANY (ARRAY[{}])").format(sql.Identifier(PARTITION_COLUMN), array)


def ensure_table(
    conn: psycopg.Connection,
    name: str,
    types: dict[str, str],
    key: tuple[str, ...],
    dated: bool = False,
) -> None:
    """Create the schemas and table if absent (partitioned: by day, or an undated one with one
    DEFAULT partition); refuse a table whose columns differ from the contract; partition in
    place a table that an older version made unpartitioned. ``conn`` is in autocommit."""
    for schema in (WAREHOUSE_SCHEMA, DAYS_SCHEMA):
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        except psycopg.errors.UniqueViolation:  # a load of another table made it meanwhile
            pass
    conn.execute(_create_live(name, types, key, dated, if_not_exists=True))
    found = [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
            " ORDER BY ordinal_position",
            (WAREHOUSE_SCHEMA, name),
        )
    ]
    if found != list(types):
        raise RuntimeError(
            f"table {WAREHOUSE_SCHEMA}.{name} has columns {found}, the contract says {list(types)};"
            " migrate or drop it before loading"
        )
    if _kind(conn, name) == "r":
        partition_in_place(conn, name, types, key, dated)


def _create_live(
    name: str, types: dict[str, str], key: tuple[str, ...], dated: bool, if_not_exists: bool
) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(col), sql.SQL(POSTGRES_TYPES[kind]))
        for col, kind in types.items()
    )
    return sql.SQL("CREATE TABLE {}{} ({}, PRIMARY KEY ({})){}").format(
        sql.SQL("IF NOT EXISTS ") if if_not_exists else sql.SQL(""),
        _table(name),
        columns,
        sql.SQL(", ").join(map(sql.Identifier, key)),
        _partitioned_by(key, dated),
    )


def _partitioned_by(key: tuple[str, ...], dated: bool) -> sql.Composed:
    """A dated table is partitioned by day; an undated one by its first key column (allowed
    with the primary key), its rows all in its one DEFAULT partition."""
    column = PARTITION_COLUMN if dated else key[0]
    return sql.SQL(" PARTITION BY LIST ({})").format(sql.Identifier(column))


def _kind(conn: psycopg.Connection, name: str) -> str:
    """The table's ``pg_class.relkind``: ``r`` a plain table, ``p`` a partitioned one."""
    return conn.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (WAREHOUSE_SCHEMA, name),
    ).fetchone()[0]


def partition_in_place(
    conn: psycopg.Connection,
    name: str,
    types: dict[str, str],
    key: tuple[str, ...],
    dated: bool = True,
) -> int:
    """Turn an unpartitioned table (an older version's) into a partitioned one (by day; an
    undated one: its one DEFAULT partition), keeping its rows, in one transaction: readers see
    the old table until it commits, and a failure leaves it as it was. Returns the rows moved."""
    old = f"{name}_unpartitioned"
    with conn.transaction():
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(_table(name)))
        if _kind(conn, name) != "r":  # another run did it while this one waited
            return 0
        (primary,) = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
            (f"{WAREHOUSE_SCHEMA}.{name}",),
        ).fetchone() or (None,)
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(_table(name), sql.Identifier(old))
        )
        if primary:  # its index name is the new table's
            drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}")
            conn.execute(drop.format(_table(old), sql.Identifier(primary)))
        conn.execute(_create_live(name, types, key, dated, if_not_exists=False))
        create = sql.SQL("CREATE TABLE {} PARTITION OF {} {}")
        if not dated:
            conn.execute(
                create.format(_day(whole_partition_name(name)), _table(name), _bound(None))
            )
        groups = day_groups(_distinct_days(conn, old)) if dated else []
        if groups:
            conn.execute(
                _statements(
                    [
                        create.format(_day(live_partition_name(name, g)), _table(name), _bound(g))
                        for g in groups
                    ]
                )
            )
        names = sql.SQL(", ").join(map(sql.Identifier, types))
        moved = conn.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                _table(name), names, names, _table(old)
            )
        ).rowcount
        conn.execute(sql.SQL("DROP TABLE {}").format(_table(old)))
    return moved


def _distinct_days(conn: psycopg.Connection, table: str) -> list[date]:
    query = sql.SQL("SELECT DISTINCT {} FROM {}")
    return [
        day
        for (day,) in conn.execute(query.format(sql.Identifier(PARTITION_COLUMN), _table(table)))
    ]


def copy_batches(
    dsn: str, stage_name: str, columns: list[str], batches: Iterable, run_id: str = ""
) -> int:
    """COPY Arrow batches into the staging table as CSV over one connection; returns the rows.
    What the Spark engine's tasks run: they have psycopg, not ADBC."""
    import pyarrow.csv as pacsv

    rows = 0
    application = f"{COPY_APPLICATION_PREFIX}{run_id}"[:63]
    with psycopg.connect(dsn, application_name=application) as conn:
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            _table(stage_name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with conn.cursor().copy(statement) as copy_in:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                copy_in.write(buffer.getvalue())
                rows += batch.num_rows
    return rows


def ingest_batches(
    dsn: str, stage_name: str, columns: list[str], batches: Iterable, run_id: str = ""
) -> int:
    """COPY Arrow batches into the staging table in binary over one connection; returns the
    rows. ADBC encodes the batches as PostgreSQL's binary rows, so neither side writes or
    parses text; it names the columns from the batches (``columns`` are theirs). Its plain API:
    its DB-API module imports pandas."""
    import adbc_driver_manager as adbc
    import adbc_driver_postgresql
    import pyarrow as pa

    batches = iter(batches)
    first = next((batch for batch in batches if batch.num_rows), None)
    if first is None:
        return 0
    reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
    application = f"{COPY_APPLICATION_PREFIX}{run_id}"[:63]
    conninfo = psycopg.conninfo.make_conninfo(dsn, application_name=application)
    option = adbc.StatementOptions
    with (
        adbc_driver_postgresql.connect(conninfo) as database,
        adbc.AdbcConnection(database) as conn,  # autocommit
        adbc.AdbcStatement(conn) as statement,
    ):
        statement.set_options(**{
            option.INGEST_TARGET_DB_SCHEMA.value: WAREHOUSE_SCHEMA,
            option.INGEST_TARGET_TABLE.value: stage_name,
            option.INGEST_MODE.value: adbc.INGEST_OPTION_MODE_APPEND,
        })  # fmt: skip
        statement.bind_stream(reader)
        return statement.execute_update()


STAGE_TABLE_PREFIX = "_stage_"


def stage_table_name(name: str, run_id: str) -> str:
    """The staging table of ``name`` for a run (PostgreSQL keeps 63 bytes of a name)."""
    return f"{STAGE_TABLE_PREFIX}{name}_{run_id}"[:63]


def stage_day_prefix(name: str, run_id: str) -> str:
    """How the names of a run's staged days of ``name`` begin (in ``DAYS_SCHEMA``): a digest
    of the run id stands for it, so that a day still fits in PostgreSQL's 63 bytes."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    return f"{STAGE_TABLE_PREFIX}{name}_{digest}_"


class PublishBlockedError(RuntimeError):
    """Readers held the live table through every attempt of a publish."""


@dataclass
class StagedTable:
    """Rows COPYed into a run's staging table, waiting for the job's audit.

    ``days``: the run's days, staged a month per partition (``day_groups``; ``None``: an undated
    table, staged whole in one DEFAULT partition). ``publish`` replaces the live rows of the
    given days (the whole table, for an undated one) with the staged ones in one transaction;
    ``discard`` drops the staging table. Both are safe to call after the other: the staging
    table is dropped once.
    """

    dsn: str
    name: str
    stage_name: str
    columns: list[str]
    key: tuple[str, ...]
    days: list[date] | None
    day_prefix: str
    rows: int = 0

    def _staged(self, group: tuple[date, ...] | None) -> str:
        """The staged partition of ``group`` (``None``: the undated table's one partition)."""
        return f"{self.day_prefix}{'default' if group is None else f'{group[0]:%Y%m%d}'}"

    def _parts(self) -> list[tuple[date, ...] | None]:
        return [None] if self.days is None else day_groups(self.days)

    def create(self, conn: psycopg.Connection) -> None:
        """The staging table, shaped and partitioned as the live table: a partition per month
        of the run's days, each with the CHECK of its bound (``_among``), and a default
        partition for rows of other days, which are never published; an undated table's rows
        all in its DEFAULT partition."""
        stage = _table(self.stage_name)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
        like = sql.SQL("CREATE TABLE {} (LIKE {})").format(stage, _table(self.name))
        partitioned = _partitioned_by(self.key, dated=self.days is not None)
        if self.days is None:
            whole = sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT")
            conn.execute(
                _statements([like + partitioned, whole.format(_day(self._staged(None)), stage)])
            )
            return
        check = sql.SQL("CREATE TABLE {} PARTITION OF {} (CONSTRAINT day_bound CHECK ({})) {}")
        months = [
            check.format(_day(self._staged(g)), stage, _among(g), _bound(g))
            for g in day_groups(self.days)
        ]
        other = sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
            _day(f"{self.day_prefix}other"), stage
        )
        conn.execute(_statements([like + partitioned, *months, other]))

    def build_keys(self) -> None:
        """The primary key of each staged partition, built once its rows are in (faster than
        keeping it up row by row; a duplicate key fails the load here)."""
        tables = [self._staged(part) for part in self._parts()]
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})")
        key = sql.SQL(", ").join(map(sql.Identifier, self.key))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                _statements(
                    [add.format(_day(t), sql.Identifier(_key_name(t)), key) for t in tables]
                )
            )

    def publish(self, days: list[date] | None, attempts: int = PUBLISH_ATTEMPTS) -> None:
        """Put the staged rows of ``days`` (``None``: the undated table's whole partition) in
        place of the live ones, in one transaction; then drop the staging table. The
        transaction waits at most ``PUBLISH_LOCK_TIMEOUT`` for the readers of the live table
        (new readers queue behind it meanwhile), and is tried again after a pause,
        ``attempts`` times in all."""
        if days is None or days:
            self._swap(None if days is None else set(days), attempts)
        self.discard()

    def _swap(self, days: set[date] | None, attempts: int) -> None:
        timeout = sql.SQL("SET LOCAL lock_timeout = {}").format(
            sql.Literal(f"{round(PUBLISH_LOCK_TIMEOUT * 1000)}ms")
        )
        # Its readers are the only wait: the live table is locked first.
        lock = sql.SQL("LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE").format(_table(self.name))
        with psycopg.connect(self.dsn) as conn:
            for attempt in range(1, attempts + 1):
                try:
                    with conn.transaction():
                        conn.execute(_statements([timeout, lock]))
                        if days is None:
                            conn.execute(self._replace_whole())
                        else:
                            conn.execute(self._replace_days(days, _live_days(conn, self.name)))
                    return
                except psycopg.errors.LockNotAvailable:
                    if attempt == attempts:
                        raise PublishBlockedError(
                            f"publish of {WAREHOUSE_SCHEMA}.{self.name} gave up after {attempts}"
                            f" attempts: readers held the table longer than the lock timeout"
                            f" ({PUBLISH_LOCK_TIMEOUT:g} s) each time; nothing was changed"
                        ) from None
                time.sleep(min(PUBLISH_BACKOFF * 2 ** (attempt - 1), PUBLISH_BACKOFF_MOST))

    def _replace_whole(self) -> sql.Composed:
        """An undated table: its live DEFAULT partition dropped, the staged one in its place."""
        live = whole_partition_name(self.name)
        return _statements(
            [sql.SQL("DROP TABLE IF EXISTS {}").format(_day(live)), *self._attach(None, live)]
        )

    def _replace_days(self, days: set[date], live: dict[str, frozenset[date]]) -> sql.Composed:
        """The live partitions holding any of ``days`` give them up: dropped when they hold
        nothing else, otherwise detached, the days' rows deleted, attached again for the days
        they keep (a scan of the partition). Then each staged month with published days is
        attached in their place (the rows of its held-back days deleted first)."""
        statements: list[sql.Composable] = []
        taken = set(live)
        for table, held in live.items():
            if not held & days:
                continue
            if held <= days:
                statements.append(sql.SQL("DROP TABLE {}").format(_day(table)))
                taken.discard(table)
                continue
            statements += [
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    _table(self.name), _day(table)
                ),
                sql.SQL("DELETE FROM {} WHERE {}").format(_day(table), _among(sorted(held & days))),
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(
                    _table(self.name), _day(table), _bound(sorted(held - days))
                ),
            ]
        for group in day_groups(self.days or []):
            published = [d for d in group if d in days]
            if not published:
                continue
            name = live_partition_name(self.name, published, taken)
            taken.add(name)
            statements += self._attach(group, name, published)
        return _statements(statements)

    def _attach(
        self, group: tuple[date, ...] | None, live: str, published: list[date] | None = None
    ) -> list[sql.Composable]:
        """Detach a staged partition, keep only its ``published`` days (all when ``None``),
        rename it and its key to ``live``'s, attach it to the live table."""
        staged = self._staged(group)
        statements: list[sql.Composable] = [
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                _table(self.stage_name), _day(staged)
            )
        ]
        if group is not None and published is not None and len(published) < len(group):
            held_back = [d for d in group if d not in published]
            statements.append(
                sql.SQL("DELETE FROM {} WHERE {}").format(_day(staged), _among(held_back))
            )
        bound = _bound(None if group is None else (published or list(group)))
        statements += [
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(_day(staged), sql.Identifier(live)),
            sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                _day(live), sql.Identifier(_key_name(staged)), sql.Identifier(_key_name(live))
            ),
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(
                _table(self.name), _day(live), bound
            ),
        ]
        return statements

    def discard(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(self.stage_name)))


_BOUND_DAY = re.compile(r"'(\d{4}-\d{2}-\d{2})'")


def _live_days(conn: psycopg.Connection, name: str) -> dict[str, frozenset[date]]:
    """The live partitions of the dated table ``name`` and the days each holds (read from their
    bounds, in ISO dates whatever the server's DateStyle)."""
    conn.execute("SET LOCAL DateStyle = 'ISO'")
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
        " JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = %s AND p.relname = %s",
        (WAREHOUSE_SCHEMA, name),
    ).fetchall()
    return {
        table: frozenset(date.fromisoformat(day) for day in _BOUND_DAY.findall(bound))
        for table, bound in rows
    }


def _key_name(table: str) -> str:
    return f"{table[:58]}_pkey"


def stage_load(
    engine: Engine,
    frame: Frame,
    dsn: str,
    name: str,
    types: dict[str, str],
    key: tuple[str, ...],
    run_id: str,
    days: list[date] | None = None,
) -> StagedTable:
    """COPY ``frame`` into the run's staging table of ``name`` (shaped as the live table; for
    a dated table, one partition per month of ``days``; ``None``: an undated table, staged
    whole), then build its primary key.

    Nothing live changes: the job publishes the staged rows after its checks pass.
    """
    staged = StagedTable(
        dsn,
        name,
        stage_table_name(name, run_id),
        list(types),
        key,
        days,
        stage_day_prefix(name, run_id),
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        engine.copy_slots.resolve(conn)
        ensure_table(conn, name, types, key, dated=days is not None)
        drop_stale_stages(conn, name, run_id)
        staged.create(conn)
    try:
        # Cast to the contract's types: a binary COPY takes only the column's own type.
        casts = ", ".join(
            f"CAST(`{c}` AS {SPARK_TYPES[kind]}) AS `{c}`" for c, kind in types.items()
        )
        selected = engine.sql(f"SELECT {casts} FROM {frame.name}")
        load = ingest_batches if engine.binary_copy else copy_batches
        copy = partial(load, dsn, staged.stage_name, staged.columns, run_id=run_id)
        staged.rows = engine.copy_to_postgres(selected, copy)
        staged.build_keys()
    except BaseException:
        staged.discard()
        raise
    return staged


def drop_stages(dsn: str, names: Iterable[str], run_id: str) -> None:
    """Drop the run's staging tables of ``names`` that exist (the job's clean-up; a staging
    table's days go with it)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in names:
            table = _table(stage_table_name(name, run_id))
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))


def drop_stale_stages(conn: psycopg.Connection, name: str, run_id: str) -> list[str]:
    """Drop the staging tables of ``name`` that other runs left (a killed job's), and any
    staged day of theirs left on its own: the job holds the table's write lease
    (``climate_assets.steps.lease``), so no other run is using them."""
    own = (WAREHOUSE_SCHEMA, stage_table_name(name, run_id))
    pattern = (STAGE_TABLE_PREFIX + name + "_").replace("_", "\\_") + "%"
    found = conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema = ANY(%s) AND table_name LIKE %s"
        " ORDER BY table_schema = %s DESC, table_name",
        ([WAREHOUSE_SCHEMA, DAYS_SCHEMA], pattern, WAREHOUSE_SCHEMA),
    ).fetchall()
    stale = [(schema, table) for schema, table in found if (schema, table) != own]
    for schema, table in stale:  # the staging tables first: their days go with them
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(table, schema)))
    return [table for schema, table in stale if schema == WAREHOUSE_SCHEMA]
