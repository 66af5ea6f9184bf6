"""Athena tables over the lake Parquet: DuckDB views on the embedded default.

A view reads its dataset's Parquet through a glob with Hive partitioning, so a day published
after the view was made is visible at once, as Athena's partition projection makes it on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
from climate_glue.contract import WAREHOUSE_SCHEMA

ATHENA_DATABASE = WAREHOUSE_SCHEMA  # contract: tables live in database climate_health
# Tables meant for sharing: over the exports, where small health counts are suppressed.
SHARED_DATABASE = f"{WAREHOUSE_SCHEMA}_shared"


@dataclass(frozen=True)
class TableSpec:
    name: str  # table name in the database
    prefix: str  # lake prefix of its files, e.g. processed/climate_data
    partitioned: bool  # Hive partitioned year=/month=/day=
    fmt: str = "parquet"  # "parquet", or "json" (JSON Lines, as the exports are)
    database: str = ATHENA_DATABASE


def _quote_identifier(name: str) -> str:
    # DuckDB has no identifier-quoting call; DDL cannot take identifiers as parameters.
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class AthenaTablesResource(dg.ConfigurableResource):
    """Creates (or updates) the SQL tables over the lake. Returns per-table metadata."""

    def create_tables(self, lake_root: str, tables: list[TableSpec]) -> dict[str, dict]:
        raise NotImplementedError

    def query(self, sql: str) -> list[tuple]:
        raise NotImplementedError


class DuckDBAthena(AthenaTablesResource):
    """The embedded stand-in for Athena: views in a DuckDB file, one schema per database."""

    database_path: str

    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        Path(self.database_path).parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(self.database_path, read_only=read_only)

    def create_tables(self, lake_root: str, tables: list[TableSpec]) -> dict[str, dict]:
        results: dict[str, dict] = {}
        with self._connect() as con:
            for table in tables:
                schema = _quote_identifier(table.database)
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                base = Path(lake_root, table.prefix)
                suffix = "json" if table.fmt == "json" else "parquet"
                files = f"*/*/*/*.{suffix}" if table.partitioned else f"*.{suffix}"
                pattern = str(base / files)
                name = f"{schema}.{_quote_identifier(table.name)}"
                if not any(base.glob(files)):
                    con.execute(f"DROP VIEW IF EXISTS {name}")
                    results[table.name] = {
                        "created": False,
                        "reason": f"no {suffix} files under {base} yet",
                    }
                    continue
                options = (
                    ", hive_partitioning = true, union_by_name = true" if table.partitioned else ""
                )
                reader = (
                    f"read_json({_quote_literal(pattern)}, format = 'newline_delimited'{options})"
                    if table.fmt == "json"
                    else f"read_parquet({_quote_literal(pattern)}{options})"
                )
                con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {reader}")
                rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                results[table.name] = {
                    "created": True,
                    "database": table.database,
                    "location": pattern,
                    "rows": rows,
                }
        return results

    def query(self, sql: str) -> list[tuple]:
        with self._connect(read_only=True) as con:
            return con.execute(sql).fetchall()
