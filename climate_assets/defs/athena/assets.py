"""Athena tables: one per processed and derived asset over its lake Parquet (true counts), and
one per derived asset in the shared database over its JSON export (small counts suppressed)."""

import dagster as dg
from climate_glue.contract import (
    CURATED_PREFIX,
    DERIVED,
    EXPORTS_PREFIX,
    PROCESSED_PREFIX,
    RAW_DATASETS,
)

from climate_assets.constants import (
    GROUP_ATHENA,
    GROUP_ATHENA_SHARED,
    OWNERS,
    athena_shared_table_key,
    athena_table_key,
)
from climate_assets.defs.automation.conditions import ATHENA_AUTOMATION
from climate_assets.defs.columns import table_columns
from climate_assets.resources.athena import (
    ATHENA_DATABASE,
    SHARED_DATABASE,
    AthenaTablesResource,
    TableSpec,
    table_version,
)
from climate_assets.resources.lake import LakeResource


def table_specs() -> list[TableSpec]:
    processed = [
        TableSpec(d.asset, f"{PROCESSED_PREFIX}/{d.asset}", d.daily) for d in RAW_DATASETS.values()
    ]
    curated = [TableSpec(d.asset, f"{CURATED_PREFIX}/{d.asset}", True) for d in DERIVED]
    return processed + curated


def shared_table_specs() -> list[TableSpec]:
    """The tables meant for sharing (contract section 4): over the JSON exports."""
    return [
        TableSpec(d.asset, f"{EXPORTS_PREFIX}/json/{d.asset}", True, "json", SHARED_DATABASE)
        for d in DERIVED
    ]


def _table_spec(
    key: dg.AssetKey, table: TableSpec, group: str, kinds: set[str], description: str
) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        deps=[dg.AssetKey(table.name)],
        group_name=group,
        kinds=kinds,
        owners=OWNERS,
        automation_condition=ATHENA_AUTOMATION,
        code_version=table_version(table),
        # A table whose dataset has no files yet is not made, and stays missing until it is.
        skippable=True,
        description=description,
        metadata=table_columns(table),
    )


def athena_tables_asset(kinds: set[str]) -> dg.AssetsDefinition:
    """The SQL tables; ``kinds`` name where they live (``duckdb`` locally, ``athena`` on AWS)."""
    tables = [
        _table_spec(
            athena_table_key(dg.AssetKey(table.name)),
            table,
            GROUP_ATHENA,
            kinds,
            f"SQL table {ATHENA_DATABASE}.{table.name} over the lake Parquet (true counts).",
        )
        for table in table_specs()
    ]
    shared = [
        _table_spec(
            athena_shared_table_key(dg.AssetKey(table.name)),
            table,
            GROUP_ATHENA_SHARED,
            kinds,
            f"Shared SQL table {SHARED_DATABASE}.{table.name} over the JSON export:"
            " health counts of 1 to 10 suppressed.",
        )
        for table in shared_table_specs()
    ]

    @dg.multi_asset(
        name="athena_tables",
        specs=[*tables, *shared],
        can_subset=True,
    )
    def athena_tables(
        context: dg.AssetExecutionContext, athena: AthenaTablesResource, lake: LakeResource
    ):
        selected = context.selected_asset_keys
        for specs, key_of in (
            (table_specs(), athena_table_key),
            (shared_table_specs(), athena_shared_table_key),
        ):
            wanted = [spec for spec in specs if key_of(dg.AssetKey(spec.name)) in selected]
            if not wanted:
                continue
            results = athena.create_tables(lake.root_uri(), wanted)
            for spec in wanted:
                key = key_of(dg.AssetKey(spec.name))
                if results[spec.name].get("created", True):
                    yield dg.MaterializeResult(asset_key=key, metadata=results[spec.name])
                else:
                    context.log.info(f"{key.to_user_string()}: {results[spec.name]['reason']}")

    return athena_tables
