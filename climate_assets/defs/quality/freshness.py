"""Freshness of the dated assets: a ``FreshnessPolicy`` on each one (Dagster 1.13).

Raw files for a day land overnight and the nightly run starts at 02:00 UTC, so a dated asset
should have been materialized between midnight and 09:00 UTC every day. Dagster evaluates the
policy itself (no check, no sensor) and shows the asset's freshness in the UI; a late day is
a freshness state, not a failed check of the data.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

FRESHNESS_DEADLINE_CRON = "0 9 * * *"  # 09:00 UTC
DAILY_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron=FRESHNESS_DEADLINE_CRON,
    lower_bound_delta=timedelta(hours=9),  # materialized since 00:00 UTC
)
