"""Names shared across the code location: asset keys and groups (the Glue jobs: job_specs.py)."""

from __future__ import annotations

import dagster as dg

# Groups name the layer a dataset is in.
GROUP_PROCESSED = "processed"
GROUP_CURATED = "curated"
GROUP_ATHENA = "athena"
GROUP_ATHENA_SHARED = "athena_shared"  # the shared tables (small counts suppressed)

# Who answers for every asset of this code location (shown in the UI, used by alerts' readers).
OWNERS = ["team:climate-data"]

LOCATIONS = dg.AssetKey("locations")
CLIMATE_DATA = dg.AssetKey("climate_data")
HEALTH_DATA = dg.AssetKey("health_data")
HOSPITAL_DATA = dg.AssetKey("hospital_data")
HEALTH_RISKS = dg.AssetKey("health_risks")
HOSPITAL_RESOURCES = dg.AssetKey("hospital_resources")
RESILIENCE_SCORES = dg.AssetKey("resilience_scores")

PROCESSED_ASSETS = (LOCATIONS, CLIMATE_DATA, HEALTH_DATA, HOSPITAL_DATA)
DERIVED_ASSETS = (HEALTH_RISKS, HOSPITAL_RESOURCES, RESILIENCE_SCORES)


def athena_table_key(asset: dg.AssetKey) -> dg.AssetKey:
    """The Athena table (a DuckDB view on the embedded default) over an asset's lake Parquet."""
    return dg.AssetKey([GROUP_ATHENA, asset.path[-1]])


def athena_shared_table_key(asset: dg.AssetKey) -> dg.AssetKey:
    """The shared Athena table over a derived asset's JSON export (small counts suppressed)."""
    return dg.AssetKey([GROUP_ATHENA, "shared", asset.path[-1]])


# The job that materializes the whole graph (the demo, the nightly schedule).
WHOLE_GRAPH_JOB = "climate_graph"
