"""Asset checks of the Glue-backed assets: declared here, computed inside their Glue job.

The job measures its output once and reports each check through Pipes with the
materialization (``climate_glue.checks``); the names come from there, so the declared specs
and the reported results cannot drift apart. Before launching, the asset reads the recent
rows per day of each of its assets from the instance and passes them, with the reject-rate
threshold, to the job as ``--quality``.
"""

from __future__ import annotations

import dagster as dg
from climate_glue.checks import CHECK_DESCRIPTIONS, WARN_CHECKS, QualityConfig, check_names
from climate_glue.contract import Dataset, Derived

from ..resources.quality import QualityThresholds

ROW_HISTORY_RUNS = 10  # materializations (runs) the row-count check compares against
ROWS_PER_DAY = "rows_per_day"  # materialization metadata the jobs report


def check_specs(key: dg.AssetKey, asset: Dataset | Derived) -> list[dg.AssetCheckSpec]:
    """The asset's checks; every one but the schema warning blocks downstream assets."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=key,
            description=CHECK_DESCRIPTIONS[name],
            blocking=name not in WARN_CHECKS,
        )
        for name in check_names(asset)
    ]


def row_history(
    instance: dg.DagsterInstance, key: dg.AssetKey, runs: int = ROW_HISTORY_RUNS
) -> list[float]:
    """Rows per day of the asset's last ``runs`` materializing runs, newest first.

    A range run records one materialization per day with the same metadata, so records are
    taken once per run.
    """
    records = instance.fetch_materializations(key, limit=runs * 31).records
    history: list[float] = []
    seen: set[str] = set()
    for record in records:
        if record.run_id in seen:
            continue
        seen.add(record.run_id)
        value = record.asset_materialization.metadata.get(ROWS_PER_DAY)
        if value is not None:
            history.append(float(value.value))
        if len(history) == runs:
            break
    return history


def quality_arguments(
    context: dg.AssetExecutionContext, keys: list[dg.AssetKey], thresholds: QualityThresholds
) -> dict[str, str]:
    """``--quality`` for the job: the thresholds (CLIMATE_MAX_REJECT_RATE) and the row history
    of each asset it materializes."""
    config = QualityConfig(
        max_reject_rate=thresholds.max_reject_rate,
        row_history={key.path[-1]: row_history(context.instance, key) for key in keys},
    )
    return {"--quality": config.to_json()}
