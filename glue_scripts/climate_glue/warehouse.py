"""Loading a frame into PostgreSQL: parallel COPY into a staging table, then one replace transaction.

The engine COPYs its Arrow batches (as CSV) into an unlogged staging table (the Spark engine from
every task over its own connection, so the load scales with the workers and needs no JDBC jar;
the DuckDB engine on one stream). The job then deletes the partitions being replaced and inserts
the staged rows in a single transaction: readers see the old rows until it commits, and a
failure anywhere leaves the table as it was.

The job learns where the warehouse is from a *reference*, never from a credential in its
arguments: ``env:NAME`` (a libpq URL in the job's environment), ``pgserver:PATH`` (the embedded
server with that data folder) or ``secretsmanager:SECRET_ID`` (an RDS secret, on AWS).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from .contract import POSTGRES_TYPES, WAREHOUSE_SCHEMA

if TYPE_CHECKING:
    from .engines import Engine, Frame

EMBEDDED_DATABASE = "climate"


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


def _dsn_from_secret(secret_id: str) -> str:
    """The connection string in an RDS secret (JSON: host, port, username, password, dbname,
    and optionally sslmode, which defaults to ``require``). Read inside the job, so the password
    is never in a job argument; errors name the secret and the keys, never a value."""
    from .aws import aws_client

    text = aws_client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        secret = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"secret {secret_id!r} is not JSON (expected an RDS secret)") from None
    missing = [key for key in SECRET_REQUIRED_KEYS if not secret.get(key)]
    if missing:
        raise ValueError(f"secret {secret_id!r} has no {', '.join(missing)}")
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


def copy_batches(dsn: str, stage_name: str, columns: list[str], batches: Iterable) -> int:
    """COPY Arrow batches into the staging table over one connection; returns the rows."""
    import pyarrow.csv as pacsv

    rows = 0
    with psycopg.connect(dsn) as conn:
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


def load_replace(
    engine: Engine,
    frame: Frame,
    dsn: str,
    name: str,
    types: dict[str, str],
    key: tuple[str, ...],
    run_id: str,
    days: list[date] | None,
) -> int:
    """Replace the rows of ``days`` (every row, for an unpartitioned table) with ``frame``.

    Returns the number of rows loaded.
    """
    stage_name = f"_stage_{name}_{run_id}"[:63]
    columns = list(types)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_table(conn, name, types, key)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(stage_name)))
        conn.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {})").format(_table(stage_name), _table(name))
        )
    try:
        selected = engine.sql(f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM {frame.name}")
        loaded = engine.copy_to_postgres(selected, partial(copy_batches, dsn, stage_name, columns))
        with psycopg.connect(dsn) as conn, conn.transaction():
            if days is None:
                conn.execute(sql.SQL("DELETE FROM {}").format(_table(name)))
            else:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
                        _table(name), sql.Identifier("date")
                    ),
                    (days,),
                )
            names = sql.SQL(", ").join(map(sql.Identifier, columns))
            conn.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    _table(name), names, names, _table(stage_name)
                )
            )
        return loaded
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(stage_name)))
