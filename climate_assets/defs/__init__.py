"""The Dagster definitions by domain: processed datasets, derived metrics, Athena tables, data
quality (checks and freshness) and automation (sensors, the schedule, automation conditions).

``climate_assets.definitions.build_definitions`` merges them; nothing here runs at import time.
"""
