"""``climate-assets check``: every asset check of the graph against a fixture landing zone.

The fixture is generated deterministically into a temporary state folder (or taken from
``--lake-root``), the whole graph is materialized for its days in one in-process run on an
ephemeral Dagster instance, and each check's result is printed. The exit code is non-zero when
a check failed or a step failed (a quarantined file, a blocking check stopping the graph), so
CI fails with it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

FIXTURE_LOCATIONS = 4
FIXTURE_DAYS = 2
FIXTURE_START = date(2024, 7, 1)
FIXTURE_SEED = 7


def _summary(metadata: dict) -> str:
    shown = []
    for key in ("failing_rows", "duplicate_rows", "reject_rate", "rows", "failing_days"):
        if key in metadata:
            shown.append(f"{key}={metadata[key]}")
    for key in ("failures_by_rule", "sample_keys", "extra_columns_by_file"):
        if metadata.get(key):
            shown.append(f"{key}={metadata[key]}")
    return " ".join(shown)


def run_checks(
    lake_root: Path | None, state_dir: Path | None, echo: Callable[[str], None] = print
) -> int:
    """Materialize the graph over the landing zone with every check; the exit code: 0 all
    passed, 1 a check failed (or a day was held back), 3 a step could not run."""
    import dagster as dg
    from climate_glue.lake import LocalLake
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from climate_assets.constants import WHOLE_GRAPH_JOB
    from climate_assets.definitions import build_definitions
    from climate_assets.settings import ENV_LAKE_ROOT, ENV_STATE_DIR, Settings
    from climate_assets.steps.failures import step_failure_cause, step_failure_held
    from climate_cli.demo import landing_dates, quiet_console
    from climate_cli.errors import EXIT_COULD_NOT_RUN, EXIT_HELD_BACK, EXIT_OK
    from climate_cli.generate import generate_landing_zone

    state = Path(state_dir or tempfile.mkdtemp(prefix="climate-check-")).resolve()
    lake = Path(lake_root or state / "lake").resolve()
    if lake_root is None:
        generate_landing_zone(
            lake,
            locations=FIXTURE_LOCATIONS,
            days=FIXTURE_DAYS,
            start=FIXTURE_START,
            seed=FIXTURE_SEED,
        )
        echo(f"Fixture landing zone: {FIXTURE_LOCATIONS} locations x {FIXTURE_DAYS} days in {lake}")
    days = landing_dates(LocalLake(lake))
    if not days:
        echo(f"No landing zone under {lake}/raw: nothing to check")
        return EXIT_HELD_BACK
    previous = {name: os.environ.get(name) for name in (ENV_STATE_DIR, ENV_LAKE_ROOT)}
    os.environ[ENV_STATE_DIR] = str(state)
    os.environ[ENV_LAKE_ROOT] = str(lake)
    try:
        job = build_definitions(Settings.from_env()).resolve_job_def(WHOLE_GRAPH_JOB)
        echo(f"Running every asset and its checks for {days[0]} .. {days[-1]}")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance,
                tags={
                    ASSET_PARTITION_RANGE_START_TAG: days[0].isoformat(),
                    ASSET_PARTITION_RANGE_END_TAG: days[-1].isoformat(),
                },
                raise_on_error=False,
                run_config=quiet_console(),
            )
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    evaluations = result.get_asset_check_evaluations()
    failed = 0
    for evaluation in sorted(
        evaluations, key=lambda e: (e.asset_key.to_user_string(), e.check_name)
    ):
        status = "PASS" if evaluation.passed else f"FAIL ({evaluation.severity.value})"
        failed += not evaluation.passed
        metadata = {k: v.value for k, v in evaluation.metadata.items()}
        echo(
            f"  {status:<12} {evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            f"  {_summary(metadata)}"
        )
    could_not_run = False
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            cause = step_failure_cause(event.event_specific_data)
            could_not_run |= not step_failure_held(event.event_specific_data)
            echo(f"  STEP FAILED  {event.step_key}: {cause}")
    echo(
        f"{len(evaluations)} check(s), {failed} failed; run {'succeeded' if result.success else 'FAILED'}"
    )
    if could_not_run:
        return EXIT_COULD_NOT_RUN
    return EXIT_OK if result.success and failed == 0 else EXIT_HELD_BACK
