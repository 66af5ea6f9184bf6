"""Loading a frame into PostgreSQL: parallel COPY into a staging table, then one replace transaction.

The engine COPYs its Arrow batches (as CSV) into an unlogged staging table (the Spark engine from
its tasks, each over its own connection, so the load scales with the workers and needs no JDBC
jar; the DuckDB engine on one stream): ``stage_load``, within the job's bound on COPY streams
(``copy_streams.CopySlots``). Nothing live changes until the job's blocking checks have passed
on its staged outputs; then ``StagedTable.publish`` deletes the partitions being replaced and
inserts the staged rows in a single transaction: readers see the old rows until it commits, and
a failure anywhere leaves the table as it was. The job drops its staging tables when it ends
(``drop_stages``); a killed job's are dropped by the next run of the same job.

The job learns where the warehouse is from a *reference*, never from a credential in its
arguments: ``env:NAME`` (a libpq URL in the job's environment), ``pgserver:PATH`` (the embedded
server with that data folder) or ``secretsmanager:SECRET_ID`` (an RDS secret, on AWS), optionally
followed by ``?host=...&port=...&dbname=...&sslmode=...`` where the secret does not say where the
database is (a secret that RDS manages holds only the username and password).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

import psycopg
from psycopg import sql

from .contract import POSTGRES_TYPES, WAREHOUSE_SCHEMA

if TYPE_CHECKING:
    from .engines import Engine, Frame

EMBEDDED_DATABASE = "climate"
# Every COPY stream's connection is named so (with the job's run id) in pg_stat_activity.
COPY_APPLICATION_PREFIX = "climate-copy:"


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


def _table(name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(name))


def ensure_table(
    conn: psycopg.Connection, name: str, types: dict[str, str], key: tuple[str, ...]
) -> None:
    """Create the schema and table if absent; refuse a table whose columns differ from the contract."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(WAREHOUSE_SCHEMA)))
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(col), sql.SQL(POSTGRES_TYPES[kind]))
        for col, kind in types.items()
    )
    conn.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))").format(
            _table(name), columns, sql.SQL(", ").join(map(sql.Identifier, key))
        )
    )
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


def copy_batches(
    dsn: str, stage_name: str, columns: list[str], batches: Iterable, run_id: str = ""
) -> int:
    """COPY Arrow batches into the staging table over one connection; returns the rows."""
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


@dataclass
class StagedTable:
    """Rows COPYed into an unlogged staging table, waiting for the job's audit.

    ``publish`` replaces the live rows of the given days (every row, for an unpartitioned table)
    with the staged ones in one transaction; ``discard`` drops the staging table. Both are safe
    to call after the other: the staging table is dropped once.
    """

    dsn: str
    name: str
    stage_name: str
    columns: list[str]
    rows: int

    def publish(self, days: list[date] | None) -> None:
        names = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            _table(self.name), names, names, _table(self.stage_name)
        )
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            if days is None:
                conn.execute(sql.SQL("DELETE FROM {}").format(_table(self.name)))
                conn.execute(insert)
            else:
                in_days = sql.SQL(" WHERE {} = ANY(%s)").format(sql.Identifier("date"))
                conn.execute(sql.SQL("DELETE FROM {}").format(_table(self.name)) + in_days, (days,))
                conn.execute(insert + in_days, (days,))
        self.discard()

    def discard(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(self.stage_name)))


STAGE_TABLE_PREFIX = "_stage_"


def stage_table_name(name: str, run_id: str) -> str:
    """The staging table of ``name`` for a run (PostgreSQL keeps 63 bytes of a name)."""
    return f"{STAGE_TABLE_PREFIX}{name}_{run_id}"[:63]


def stage_load(
    engine: Engine,
    frame: Frame,
    dsn: str,
    name: str,
    types: dict[str, str],
    key: tuple[str, ...],
    run_id: str,
) -> StagedTable:
    """COPY ``frame`` into the run's staging table of ``name`` (created like the live table).

    Nothing live changes: the job publishes the staged rows after its checks pass.
    """
    stage_name = stage_table_name(name, run_id)
    columns = list(types)
    with psycopg.connect(dsn, autocommit=True) as conn:
        engine.copy_slots.resolve(conn)
        ensure_table(conn, name, types, key)
        drop_stale_stages(conn, name, run_id)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(stage_name)))
        conn.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {})").format(_table(stage_name), _table(name))
        )
    staged = StagedTable(dsn, name, stage_name, columns, 0)
    try:
        selected = engine.sql(f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM {frame.name}")
        staged.rows = engine.copy_to_postgres(
            selected, partial(copy_batches, dsn, stage_name, columns, run_id=run_id)
        )
    except BaseException:
        staged.discard()
        raise
    return staged


def drop_stages(dsn: str, names: Iterable[str], run_id: str) -> None:
    """Drop the run's staging tables of ``names`` that exist (the job's clean-up)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in names:
            table = _table(stage_table_name(name, run_id))
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))


def drop_stale_stages(conn: psycopg.Connection, name: str, run_id: str) -> list[str]:
    """Drop the staging tables of ``name`` that other runs left (a killed job's): the job holds
    the table's write lease (``climate_assets.steps.lease``), so no other run is using them."""
    own = stage_table_name(name, run_id)
    pattern = (STAGE_TABLE_PREFIX + name + "_").replace("_", "\\_") + "%"
    found = conn.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = %s AND table_name LIKE %s",
        (WAREHOUSE_SCHEMA, pattern),
    ).fetchall()
    stale = [table for (table,) in found if table != own]
    for table in stale:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(table)))
    return stale
