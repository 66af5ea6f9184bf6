"""The daily partitions that every dated asset shares."""

from __future__ import annotations

import dagster as dg


def daily_partitions(start_date: str) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day from ``start_date`` (CLIMATE_PARTITIONS_START) to yesterday."""
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone="UTC")
