"""A range with a bad day: the good days' derived metrics, after the run that held one back.

Dagster blocks a step, not a partition. When a processed dataset's blocking check fails for one
day of a range run, its job publishes the other days and holds that one back (the
materialization's ``held_back`` metadata names the days and checks: ``climate_glue.write_audit_publish.audit``),
but the run's derived step is skipped for the whole range. The sensor here runs the derived step
again around the held days: one run of the derived metrics per stretch of consecutive good days
(a single-run backfill of that stretch). The in-process commands (``materialize``, ``check``) do
the same when no daemon is running.

Only a run whose every failure is a blocking check that held back named days qualifies: a
quarantined file, a held-back locations list or any other error leaves the range to the
operator, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg

from climate_assets.constants import DERIVED_ASSETS, PROCESSED_ASSETS
from climate_assets.partitions import days_of, range_tags, range_text, run_range, stretches
from climate_assets.steps.failures import CHECK_FAILED_ERROR

# Materialization metadata written by the jobs (climate_glue.write_audit_publish).
HELD_BACK = "held_back"
HELD_DAYS_SENSOR = "climate_derived_around_held_days"
HELD_FOR_TAG = "climate/around_held_days_of"


@dataclass(frozen=True)
class HeldBack:
    """What a range run held back, and the stretches of good days left to derive."""

    run_id: str
    held: dict[str, list[str]]  # day -> the "asset:check"s that held it
    stretches: list[tuple[date, date]]

    def describe(self) -> str:
        days = "; ".join(f"{day} ({', '.join(why)})" for day, why in sorted(self.held.items()))
        good = ", ".join(range_text(first, last) for first, last in self.stretches)
        return (
            f"run {self.run_id} held back {days}; derived metrics of the other days: "
            f"{good or 'none'}"
        )


def _error_classes(error) -> set[str]:
    classes = set()
    while error is not None:
        classes.add(error.cls_name)
        error = error.cause
    return classes


def held_back_in_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> HeldBack | None:
    """The held days and the good stretches of a failed range run, or None when it is not one
    whose derived metrics can run around its held days."""
    days = run_range(run.tags)
    if days is None:
        return None
    failures = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records
    if not failures or not all(
        CHECK_FAILED_ERROR
        in _error_classes(r.event_log_entry.dagster_event.step_failure_data.error)
        for r in failures
    ):
        return None
    materialized: dict[dg.AssetKey, dict] = {}
    for record in instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        event = record.event_log_entry.asset_materialization
        materialized[event.asset_key] = {k: v.value for k, v in event.metadata.items()}
    if any(key in materialized for key in DERIVED_ASSETS):
        return None  # the derived step ran: nothing was skipped
    held: dict[str, list[str]] = {}
    for key in PROCESSED_ASSETS:
        metadata = materialized.get(key)
        if metadata is None:
            return None  # a dataset of the range was not published at all
        verdict = metadata.get(HELD_BACK)
        if verdict is None:
            continue
        if verdict["days"] == "all":
            return None  # locations, or every day of the range
        for day in verdict["days"]:
            held.setdefault(day, []).extend(verdict["checks"])  # "asset:check"
    if not held:
        return None
    first, last = date.fromisoformat(days.start), date.fromisoformat(days.end)
    good = [day for day in days_of(first, last) if day.isoformat() not in held]
    return HeldBack(run.run_id, held, stretches(good))


def held_days_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.RunStatusSensorDefinition:
    """Runs ``job``'s derived assets around the days a failed range run held back."""

    @dg.run_failure_sensor(
        name=HELD_DAYS_SENSOR,
        monitored_jobs=[job],
        request_job=job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="A range run held back a day: derives the metrics of its other days.",
    )
    def derived_around_held_days(context: dg.RunFailureSensorContext):
        found = held_back_in_run(context.instance, context.dagster_run)
        if found is None or not found.stretches:
            return dg.SkipReason(
                f"run {context.dagster_run.run_id}: no good days to derive around held days"
            )
        context.log.warning(found.describe())
        return [
            dg.RunRequest(
                run_key=f"{found.run_id}:{first}",
                asset_selection=list(DERIVED_ASSETS),
                tags={**range_tags(first, last), HELD_FOR_TAG: found.run_id},
            )
            for first, last in found.stretches
        ]

    return derived_around_held_days
