"""Declarative automation: derived metrics follow their inputs, Athena tables their definitions.

The arrival sensor materializes the processed datasets as files land, with a day's derived
metrics in the same run when its inputs are then complete; these conditions take the rest from
there (a day completed by separate runs, a manual materialization), evaluated by the automation
condition sensor in the daemon:

- a day's derived metrics run once, since they last ran, an input of that day (not locations) was
  updated, and
  none of its inputs (that day's climate, health and hospital partitions, and locations) is
  missing, in progress or has a failed blocking check. Unlike ``AutomationCondition.eager()`` it
  is not limited to the latest day: a late or re-dropped day is recomputed too.
- an Athena table runs when its definition changed (its code version: where it reads, the
  format, the contract's columns, the DDL), or when it was never made and its dataset was
  updated. New data needs no run: the table reads its dataset's folder (a DuckDB view over a
  glob, Athena partition projection on AWS), so a published day is visible at once. The nightly
  job makes every table again (and refreshes its row count in the UI).
"""

from __future__ import annotations

import dagster as dg

from climate_assets.constants import CLIMATE_DATA, HEALTH_DATA, HOSPITAL_DATA, LOCATIONS

AUTOMATION_SENSOR = "climate_automation_sensor"

AC = dg.AutomationCondition


def _day_ready(key: dg.AssetKey) -> dg.AutomationCondition:
    """That day's partition of ``key`` is present, not being written, and its checks passed."""
    return AC.asset_matches(
        key,
        ~AC.missing()
        & ~AC.in_progress()
        & AC.all_checks_match(AC.check_passed(), blocking_only=True),
    ).with_label(f"{key.to_user_string()} of the day ready")


# The three derived assets are one job (a non-subsettable multi-asset): each of them waits for
# all three daily inputs, not only its own deps, since requesting one runs all three.
DERIVED_AUTOMATION = (
    # Locations is left out of the trigger: the nightly run refreshes it, and every day with
    # data would otherwise be recomputed each night (backfill from the UI after a real change).
    AC.any_deps_updated().ignore(dg.AssetSelection.assets(LOCATIONS)).since_last_handled()
    & ~AC.any_deps_missing()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & AC.all_deps_blocking_checks_passed()
    & _day_ready(CLIMATE_DATA)
    & _day_ready(HEALTH_DATA)
    & _day_ready(HOSPITAL_DATA)
).with_label("inputs of the day updated, present and checked")

ATHENA_AUTOMATION = (
    (
        AC.code_version_changed().since_last_handled().with_label("table definition changed")
        | (AC.missing() & AC.any_deps_updated().since_last_handled()).with_label(
            "table not made yet, and its dataset was updated"
        )
    )
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
)


def automation_sensor(interval_seconds: int) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the conditions above in the daemon; running by default."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval_seconds,
        description="Derived metrics when a day's inputs are updated and checked; Athena tables after.",
    )
