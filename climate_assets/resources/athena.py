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
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_identifier(ATHENA_DATABASE)}")
            for table in tables:
                base = Path(lake_root, table.prefix)
                pattern = str(base / ("*/*/*/*.parquet" if table.partitioned else "*.parquet"))
                name = f"{_quote_identifier(ATHENA_DATABASE)}.{_quote_identifier(table.name)}"
                if not any(base.glob("*/*/*/*.parquet" if table.partitioned else "*.parquet")):
                    con.execute(f"DROP VIEW IF EXISTS {name}")
                    results[table.name] = {
                        "created": False,
                        "reason": f"no Parquet under {base} yet",
                    }
                    continue
                options = (
                    ", hive_partitioning = true, union_by_name = true" if table.partitioned else ""
                )
                con.execute(
                    f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_quote_literal(pattern)}{options})"
                )
                rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                results[table.name] = {"created": True, "location": pattern, "rows": rows}
        return results

    def query(self, sql: str) -> list[tuple]:
        with self._connect(read_only=True) as con:
            return con.execute(sql).fetchall()
