"""Column schemas and column lineage of the assets, as the UI shows them.

Every asset carries ``dagster/column_schema``: its output columns from the contract
(``climate_glue.contract``) with their types, descriptions and key. Every asset built from
other assets carries ``dagster/column_lineage``, read from the SQL that builds it
(``climate_glue.logic``) by ``sqlglot.lineage``; no column list or formula is restated here.

The OSS webserver does not draw column lineage (its column lineage view is Dagster+'s), so
each column's description also ends with its upstream columns: the columns table shows them.

Lineage granularity: one hop, asset to asset. A column's dependencies are the columns of the
assets that the asset's SQL reads whose values flow into it, followed through the SQL's own
subqueries and CTEs (``resilience_score`` reads ``health_risks.health_risk_index``, not the
climate columns behind it: the UI follows the next hop on ``health_risks``). Columns that only
join, group or filter rows are not dependencies, so a count (``hospital_count``) or a value
that comes from the run rather than from a column (``hospital_resources.date``, the run's days;
``_processed_at``, ``_run_id``) has none. The processed datasets are read from raw files, which
are not assets: they have a schema and no lineage.

Types are the contract's names (``long``, ``bool``, ...) for the lake and PostgreSQL assets,
and the Hive types of the table definition for the Athena tables. Key columns are marked with
the primary key that PostgreSQL gives them; Athena tables have no constraints.
"""

from __future__ import annotations

import functools

import dagster as dg
from climate_glue import logic
from climate_glue.contract import (
    CLIMATE,
    DERIVED,
    HEALTH,
    HEALTH_RISKS,
    HIVE_PARTITION_DESCRIPTIONS,
    HIVE_TYPES,
    HOSPITAL,
    HOSPITAL_RESOURCES,
    LINEAGE_DESCRIPTIONS,
    LINEAGE_TYPES,
    LOCATIONS,
    RAW_DATASETS,
    RESILIENCE_SCORES,
    SPARK_TYPES,
    SUPPRESSED_DESCRIPTION,
    Column,
    Dataset,
    Derived,
)
from sqlglot import exp
from sqlglot.lineage import lineage

from climate_assets.resources.athena import TableSpec, contract_types, partition_types

# Each column of an asset -> the (upstream asset, column) pairs its values are computed from.
Lineage = dict[str, frozenset[tuple[str, str]]]

COLUMN_SCHEMA = "dagster/column_schema"
COLUMN_LINEAGE = "dagster/column_lineage"

# The relation of the run's days that hospital_resources crosses every location with: not an
# asset, so the columns read from it have no upstream asset.
RUN_DAYS = "run_days"

# Each derived asset's SQL, reading its upstream assets by their names (as the job does).
FORMULAS = {
    HEALTH_RISKS.asset: lambda: logic.health_risks(CLIMATE.asset, HEALTH.asset, LOCATIONS.asset),
    HOSPITAL_RESOURCES.asset: lambda: logic.hospital_resources(
        HOSPITAL.asset, LOCATIONS.asset, RUN_DAYS
    ),
    RESILIENCE_SCORES.asset: lambda: logic.resilience_scores(
        HEALTH_RISKS.asset, HOSPITAL_RESOURCES.asset
    ),
}


def _outputs(asset: str) -> Dataset | Derived:
    for spec in (*RAW_DATASETS.values(), *DERIVED):
        if spec.asset == asset:
            return spec
    raise KeyError(f"no dataset {asset!r} in the contract")


PRIMARY_KEY = "primary key"  # a column's tag; the table's lists the key's columns


def _key_constraints(key: tuple[str, ...]) -> dg.TableColumnConstraints:
    return dg.TableColumnConstraints(nullable=False, unique=len(key) == 1, other=[PRIMARY_KEY])


def _rule(column: Column) -> str:
    """The contract's rule of a raw column, as the data contract writes it."""
    parts = [] if column.required else ["optional in the header"]
    low, high = column.min, column.max
    if low is not None and high is not None:
        parts.append(f"{logic.num(low)}..{logic.num(high)}")
    elif low is not None:
        parts.append(f"{'>' if column.min_exclusive else '>='} {logic.num(low)}")
    elif high is not None:
        parts.append(f"<= {logic.num(high)}")
    if column.max_column:
        parts.append(f"<= {column.max_column}")
    return f" Rule: {'; '.join(parts)}." if parts else ""


def _column_descriptions(spec: Dataset | Derived) -> dict[str, str]:
    if isinstance(spec, Dataset):
        own = {c.name: c.description + _rule(c) for c in spec.columns}
    else:
        own = dict(spec.descriptions)
    missing = [
        name
        for name in spec.output_types
        if name not in LINEAGE_DESCRIPTIONS and not own.get(name, "").strip()
    ]
    if missing:
        raise ValueError(
            f"{spec.asset}: no description in climate_glue/contract.py for {', '.join(missing)}"
        )
    return {**own, **LINEAGE_DESCRIPTIONS}


def _upstream(description: str, deps: frozenset[tuple[str, str]]) -> str:
    """The description, then the upstream columns: the OSS UI draws no column lineage (that
    view is Dagster+'s), so the columns table says where each column comes from."""
    if not deps:
        return description
    named = ", ".join(f"`{asset}.{column}`" for asset, column in sorted(deps))
    return f"{description}\n\nUpstream: {named}"


def column_schema(spec: Dataset | Derived, lineage: Lineage | None = None) -> dg.TableSchema:
    """The columns of a processed or derived asset (lake Parquet and PostgreSQL table); each
    column's description ends with its upstream columns from ``lineage``."""
    lineage = lineage or {}
    descriptions = _column_descriptions(spec)
    non_null = {c.name for c in spec.columns if c.non_null} if isinstance(spec, Dataset) else set()
    non_null |= set(LINEAGE_TYPES)  # every row has them
    columns = []
    for name, kind in spec.output_types.items():
        if name in spec.key:
            constraints = _key_constraints(spec.key)
        elif name in non_null:
            constraints = dg.TableColumnConstraints(nullable=False)
        else:
            constraints = None
        description = _upstream(descriptions[name], lineage.get(name, frozenset()))
        columns.append(dg.TableColumn(name, kind, description, constraints))
    return dg.TableSchema(
        columns=columns,
        constraints=dg.TableConstraints(other=[f"{PRIMARY_KEY}: {', '.join(spec.key)}"]),
    )


def _sql_schema() -> dict[str, dict[str, str]]:
    """Every asset's columns with Spark types, as sqlglot resolves ``*`` and bare names."""
    schema = {
        spec.asset: {name: SPARK_TYPES[kind] for name, kind in spec.output_types.items()}
        for spec in (*RAW_DATASETS.values(), *DERIVED)
    }
    schema[RUN_DAYS] = {"date": SPARK_TYPES["date"]}
    return schema


def traced(sql: str) -> Lineage:
    """Each output column of ``sql`` (Spark SQL) -> the (asset, column) pairs it is computed
    from, through the query's subqueries and CTEs; relations that are not assets left out."""
    schema = _sql_schema()
    nodes = lineage(None, sql, schema=schema, dialect="spark", trim_selects=False)
    return {
        name: frozenset(
            (node.expression.name, exp.to_column(node.name).name)
            for node in root.walk()
            if isinstance(node.expression, exp.Table) and node.expression.name != RUN_DAYS
        )
        for name, root in nodes.items()
    }


def _lineage_value(deps: Lineage) -> dg.TableColumnLineageMetadataValue:
    return dg.MetadataValue.column_lineage(
        dg.TableColumnLineage(
            deps_by_column={
                column: [
                    dg.TableColumnDep(dg.AssetKey(asset), name) for asset, name in sorted(found)
                ]
                for column, found in deps.items()
                if found
            }
        )
    )


@functools.cache
def derived_lineage(asset: str) -> Lineage:
    """A derived asset's columns -> their upstream (asset, column) pairs, from its formula's SQL
    and the lineage columns the job adds (``logic.with_lineage``: ``_source_file`` is the row's
    input partition)."""
    spec = _outputs(asset)
    stamped = logic.with_lineage(
        f"({FORMULAS[asset]()}) AS formula",
        spec.types,
        "1970-01-01T00:00:00",
        "run",
        source=logic.DERIVED_SOURCE,
    )
    return traced(stamped)


def asset_columns(key: dg.AssetKey) -> dict[str, object]:
    """Definition metadata of a processed or derived asset: its schema, and its lineage."""
    spec = _outputs(key.path[-1])
    if spec.asset not in FORMULAS:  # read from raw files, which are not assets
        return {COLUMN_SCHEMA: dg.MetadataValue.table_schema(column_schema(spec))}
    lineage = derived_lineage(spec.asset)
    return {
        COLUMN_SCHEMA: dg.MetadataValue.table_schema(column_schema(spec, lineage)),
        COLUMN_LINEAGE: _lineage_value(lineage),
    }


def table_types(table: TableSpec) -> dict[str, str]:
    """An Athena table's columns with contract types: its files' columns, then its partitions."""
    return {**contract_types(table), **partition_types(table)}


def table_schema(table: TableSpec) -> dg.TableSchema:
    """The columns of an Athena table over an asset's files, with the table's Hive types and,
    in each description, its upstream columns."""
    lineage = table_lineage(table)
    descriptions = {
        **_column_descriptions(_outputs(table.name)),
        **HIVE_PARTITION_DESCRIPTIONS,
        "suppressed": SUPPRESSED_DESCRIPTION,
    }
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                HIVE_TYPES[kind],
                _upstream(descriptions[name], lineage.get(name, frozenset())),
            )
            for name, kind in table_types(table).items()
        ]
    )


def _table_sql(table: TableSpec) -> str:
    """The query that wrote the files a table reads, from its asset's rows: the privacy
    suppression of a shared table's export, then the partition folders of a dated one."""
    spec = _outputs(table.name)
    sql = f"SELECT * FROM {logic.q(spec.asset)}"
    if "suppressed" in contract_types(table):
        sql = logic.suppress_small_counts(
            f"({sql}) AS upstream", list(spec.output_types), spec.suppress
        )
    if table.partitioned:
        sql = logic.hive_columns(f"({sql}) AS upstream")
    return sql


@functools.cache
def table_lineage(table: TableSpec) -> Lineage:
    """An Athena table's columns from its asset's: the same column, a partition from ``date``,
    ``suppressed`` from ``case_total``."""
    return traced(_table_sql(table))


def table_columns(table: TableSpec) -> dict[str, object]:
    """Definition metadata of an Athena table asset: its schema and lineage."""
    return {
        COLUMN_SCHEMA: dg.MetadataValue.table_schema(table_schema(table)),
        COLUMN_LINEAGE: _lineage_value(table_lineage(table)),
    }
