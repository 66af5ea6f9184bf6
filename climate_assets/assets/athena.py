"""Athena tables: one per processed and derived asset, over its lake Parquet."""

import dagster as dg
from climate_glue.contract import CURATED_PREFIX, DERIVED, PROCESSED_PREFIX, RAW_DATASETS

from ..automation import ATHENA_AUTOMATION
from ..constants import DERIVED_ASSETS, GROUP_ATHENA, PROCESSED_ASSETS, athena_table_key
from ..resources.athena import AthenaTablesResource, TableSpec
from ..resources.lake import LakeResource


def table_specs() -> list[TableSpec]:
    processed = [
        TableSpec(d.asset, f"{PROCESSED_PREFIX}/{d.asset}", d.daily) for d in RAW_DATASETS.values()
    ]
    curated = [TableSpec(d.asset, f"{CURATED_PREFIX}/{d.asset}", True) for d in DERIVED]
    return processed + curated


@dg.multi_asset(
    name="athena_tables",
    specs=[
        dg.AssetSpec(
            athena_table_key(asset),
            deps=[asset],
            group_name=GROUP_ATHENA,
            kinds={"athena", "duckdb"},
            automation_condition=ATHENA_AUTOMATION,
            description=f"SQL table climate_health.{asset.path[-1]} over the lake Parquet.",
        )
        for asset in (*PROCESSED_ASSETS, *DERIVED_ASSETS)
    ],
    can_subset=True,
)
def athena_tables(
    context: dg.AssetExecutionContext, athena: AthenaTablesResource, lake: LakeResource
):
    wanted = {key.path[-1] for key in context.selected_asset_keys}
    specs = [spec for spec in table_specs() if spec.name in wanted]
    results = athena.create_tables(lake.root_uri(), specs)
    for spec in specs:
        yield dg.MaterializeResult(
            asset_key=athena_table_key(dg.AssetKey(spec.name)), metadata=results[spec.name]
        )
