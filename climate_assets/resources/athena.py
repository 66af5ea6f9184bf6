"""Athena tables over the lake Parquet: DuckDB views on the embedded default.

A view reads its dataset's Parquet through a glob with Hive partitioning, so a day published
after the view was made is visible at once, as Athena's partition projection makes it on AWS.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg
import duckdb
from climate_glue.aws import aws_client
from climate_glue.contract import HIVE_TYPES, WAREHOUSE_SCHEMA

from climate_assets.settings import DEFAULT_ATHENA_WORKGROUP

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


class DuckDBAthena(AthenaTablesResource):
    """The embedded stand-in for Athena: views in a DuckDB file, one schema per database."""

    database_path: str

    def _connect(self) -> duckdb.DuckDBPyConnection:
        Path(self.database_path).parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(self.database_path)

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
                reader = _reader(table, pattern)
                con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {reader}")
                rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                results[table.name] = {
                    "created": True,
                    "database": table.database,
                    "location": pattern,
                    "rows": rows,
                }
        return results


def _reader(table: TableSpec, pattern: str) -> str:
    """The DuckDB table function a view reads its files with.

    A JSON table's columns are declared, from the contract, as the Glue table declares them on
    AWS: DuckDB then neither samples every file for their names and types nor unions them by
    name (for a year of three exports, 3 s to make the views and 3 s to count them, against
    0.1 and 0.6 s). Parquet files carry their schema; reading them by name keeps a table whole
    across schema changes."""
    hive = ", hive_partitioning = true" if table.partitioned else ""
    if table.fmt == "json":
        from climate_glue.engines.duck import DUCKDB_TYPES

        columns = ", ".join(
            f"{_quote_literal(name)}: {_quote_literal(DUCKDB_TYPES[kind])}"
            for name, kind in contract_types(table).items()
        )
        return (
            f"read_json({_quote_literal(pattern)}, format = 'newline_delimited',"
            f" columns = {{{columns}}}{hive})"
        )
    by_name = ", union_by_name = true" if table.partitioned else ""
    return f"read_parquet({_quote_literal(pattern)}{hive}{by_name})"


PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
JSON_STORAGE = {  # JSON Lines, as Spark writes the exports
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
        "Parameters": {"ignore.malformed.json": "FALSE"},
    },
}
# Partition projection ranges of the Hive partition columns: (range, digits).
PROJECTION_MONTH = ("1,12", 2)
PROJECTION_DAY = ("1,31", 2)


# Bump when the DDL that this module writes changes (a reader option, a table parameter): every
# table's code version changes with it, and the automation sensor recreates the tables once.
TABLE_DDL_VERSION = 2  # 2: JSON tables declare their columns


def table_version(spec: TableSpec) -> str:
    """The table's definition as a Dagster code version: where it reads, in which format, with
    which contract columns, made by which DDL. Data published into an existing table's folder
    does not change it (the view's glob, or Athena's partition projection, sees a new day)."""
    definition = [TABLE_DDL_VERSION, asdict(spec), contract_types(spec)]
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]


def contract_types(spec: TableSpec) -> dict[str, str]:
    """The columns of the files a table reads, with contract types (lineage columns included).

    Looked up by table name among the processed and derived datasets; a JSON table over a
    privacy-suppressed export (the asset has a ``suppress`` rule) also has its ``suppressed`` flag.
    """
    from climate_glue.contract import ASSETS

    if spec.name not in ASSETS:
        raise KeyError(
            f"table {spec.database}.{spec.name}: no dataset of that name in the contract"
            f" (known: {', '.join(sorted(ASSETS))})"
        )
    types = dict(ASSETS[spec.name].output_types)
    if spec.fmt == "json" and ASSETS[spec.name].suppress:
        types["suppressed"] = "bool"
    return types


def partition_types(spec: TableSpec) -> dict[str, str]:
    """The Hive partition columns of a table (its year=/month=/day= folders), with contract types."""
    from climate_glue.contract import HIVE_PARTITION_COLUMNS

    return {name: "int" for name in HIVE_PARTITION_COLUMNS} if spec.partitioned else {}


def glue_table_input(
    spec: TableSpec, location: str, first_year: int, last_year: int
) -> dict[str, object]:
    """The Glue Data Catalog ``TableInput`` of an external table over ``location``.

    A partitioned table uses partition projection on year/month/day (integer ranges with
    leading zeros, as the folders are named), so a newly published day is visible to Athena
    without a crawler or ``MSCK REPAIR``.
    """
    if spec.fmt not in ("parquet", "json"):
        raise ValueError(f"table {spec.database}.{spec.name}: unknown format {spec.fmt!r}")
    location = location.rstrip("/") + "/"
    storage = PARQUET_STORAGE if spec.fmt == "parquet" else JSON_STORAGE
    columns = [{"Name": n, "Type": HIVE_TYPES[t]} for n, t in contract_types(spec).items()]
    parameters = {"EXTERNAL": "TRUE", "classification": spec.fmt}
    partitions = partition_types(spec)
    partition_keys = [{"Name": n, "Type": HIVE_TYPES[t]} for n, t in partitions.items()]
    if partitions:
        year, month, day = partitions
        ranges = {
            year: (f"{first_year},{last_year}", 4),
            month: PROJECTION_MONTH,
            day: PROJECTION_DAY,
        }
        parameters["projection.enabled"] = "true"
        for name, (value_range, digits) in ranges.items():
            parameters[f"projection.{name}.type"] = "integer"
            parameters[f"projection.{name}.range"] = value_range
            parameters[f"projection.{name}.digits"] = str(digits)
        parameters["storage.location.template"] = (
            location + "/".join(f"{name}=${{{name}}}" for name in partitions) + "/"
        )
    return {
        "Name": spec.name,
        "Description": f"{spec.fmt} files under {location} (climate-assets)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": partition_keys,
        "StorageDescriptor": {"Columns": columns, "Location": location, **storage},
    }


def _same_table(current: dict, wanted: dict) -> bool:
    """Whether the catalog's table already has what ``wanted`` sets (Glue adds fields of its own)."""
    have_sd, want_sd = current.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    return (
        current.get("Parameters", {}) == wanted["Parameters"]
        and current.get("PartitionKeys", []) == wanted["PartitionKeys"]
        and current.get("TableType") == wanted["TableType"]
        and current.get("Description") == wanted["Description"]
        and all(have_sd.get(key) == value for key, value in want_sd.items())
    )


class GlueCatalogAthena(AthenaTablesResource):
    """Athena on AWS: Glue Data Catalog databases and external tables over the S3 lake, and the
    project's named queries saved in the workgroup. Both are create-or-update: running it again
    with nothing changed changes nothing."""

    region: str
    workgroup: str = DEFAULT_ATHENA_WORKGROUP
    results_location: str  # s3://bucket/prefix/ for query results
    first_year: int = 2010  # partition projection range of year=
    last_year: int = 2030

    def _client(self, service: str):
        return aws_client(service, self.region)

    def _ensure_database(self, glue, name: str) -> None:
        try:
            glue.get_database(Name=name)
        except glue.exceptions.EntityNotFoundException:
            glue.create_database(
                DatabaseInput={"Name": name, "Description": "climate-assets tables over the lake"}
            )

    def create_tables(self, lake_root: str, tables: list[TableSpec]) -> dict[str, dict]:
        glue = self._client("glue")
        results: dict[str, dict] = {}
        for database in sorted({t.database for t in tables}):
            self._ensure_database(glue, database)
        for spec in tables:
            location = f"{lake_root.rstrip('/')}/{spec.prefix.strip('/')}/"
            wanted = glue_table_input(spec, location, self.first_year, self.last_year)
            try:
                current = glue.get_table(DatabaseName=spec.database, Name=spec.name)["Table"]
            except glue.exceptions.EntityNotFoundException:
                glue.create_table(DatabaseName=spec.database, TableInput=wanted)
                action = "created"
            else:
                if _same_table(current, wanted):
                    action = "unchanged"
                else:
                    glue.update_table(DatabaseName=spec.database, TableInput=wanted)
                    action = "updated"
            results[spec.name] = {
                "table": f"{spec.database}.{spec.name}",
                "catalog_action": action,
                "location": location,
                "format": spec.fmt,
                "partition_projection": spec.partitioned,
            }
        saved = self.save_named_queries()
        for result in results.values():
            result["workgroup"] = self.workgroup
            result["named_queries"] = {"raw_value": saved, "type": "json"}
        return results

    def save_named_queries(self) -> dict[str, str]:
        """Create or update the project's named queries in the workgroup: name -> action."""
        from climate_assets.queries import named_queries

        athena = self._client("athena")
        existing: dict[str, dict] = {}
        for page in athena.get_paginator("list_named_queries").paginate(WorkGroup=self.workgroup):
            for query_id in page.get("NamedQueryIds", []):
                query = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
                existing[query["Name"]] = query
        actions = {}
        for query in named_queries().values():
            found = existing.get(query.name)
            if found is None:
                athena.create_named_query(
                    Name=query.name,
                    Description=query.description,
                    Database=ATHENA_DATABASE,
                    QueryString=query.sql,
                    WorkGroup=self.workgroup,
                )
                actions[query.name] = "created"
            elif found["QueryString"] != query.sql or found.get("Description") != query.description:
                athena.update_named_query(
                    NamedQueryId=found["NamedQueryId"],
                    Name=query.name,
                    Description=query.description,
                    QueryString=query.sql,
                )
                actions[query.name] = "updated"
            else:
                actions[query.name] = "unchanged"
        return actions
