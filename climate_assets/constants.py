"""Names shared across the code location: asset keys, groups, Glue job names and scripts."""

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


# Glue jobs and the script each one runs (the same file locally and on AWS Glue).
JOB_PROCESS_LOCATIONS = "process-locations"
JOB_PROCESS_CLIMATE = "process-climate-data"
JOB_PROCESS_HEALTH = "process-health-data"
JOB_PROCESS_HOSPITAL = "process-hospital-data"
JOB_DERIVED_METRICS = "calculate-derived-metrics"

GLUE_JOB_SCRIPTS = {
    JOB_PROCESS_LOCATIONS: "process_locations.py",
    JOB_PROCESS_CLIMATE: "process_climate_data.py",
    JOB_PROCESS_HEALTH: "process_health_data.py",
    JOB_PROCESS_HOSPITAL: "process_hospital_data.py",
    JOB_DERIVED_METRICS: "calculate_derived_metrics.py",
}

# The job that materializes the whole graph (the demo, the nightly schedule).
WHOLE_GRAPH_JOB = "climate_graph"
