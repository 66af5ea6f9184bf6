"""The thresholds of the asset checks that the Glue jobs compute."""

from __future__ import annotations

import dagster as dg
from climate_glue.checks import DEFAULT_MAX_REJECT_RATE


class QualityThresholds(dg.ConfigurableResource):
    """Set from ``CLIMATE_MAX_REJECT_RATE`` (``settings.py``); passed to each job in
    ``--quality``, so a run's checks use the value in force when the run launched."""

    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE
