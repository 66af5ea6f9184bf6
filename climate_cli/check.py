"""``climate-assets check``: every asset check of the graph against a fixture landing zone.

The fixture is generated deterministically into a temporary state folder (or taken from
``--lake-root``), the whole graph is materialized for its days in one in-process run on an
ephemeral Dagster instance, and each check's result is printed. The exit code is non-zero when
a check failed or a step failed (a quarantined file, a blocking check stopping the graph), so
CI fails with it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

    from climate_assets.settings import Settings

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


def check_settings(state: Path, lake: Path) -> Settings:
    """The environment's settings, on the embedded default with the check's own state folder and
    lake (the fixture is a local folder; CLIMATE_WAREHOUSE_URL, the engine and thresholds hold)."""
    from climate_assets.settings import ENV_LOCAL, Settings

    return dataclasses.replace(
        Settings.from_env(), state_dir=state, lake_root=lake, environment=ENV_LOCAL, aws=None
    )


def fixture_lake(lake_root: Path | None, state: Path, echo: Callable[[str], None]) -> Path:
    """``lake_root``, or a fixture landing zone generated under the state folder."""
    from climate_cli.generate import generate_landing_zone

    if lake_root is not None:
        return Path(lake_root).resolve()
    lake = (state / "lake").resolve()
    generate_landing_zone(
        lake, locations=FIXTURE_LOCATIONS, days=FIXTURE_DAYS, start=FIXTURE_START, seed=FIXTURE_SEED
    )
    echo(f"Fixture landing zone: {FIXTURE_LOCATIONS} locations x {FIXTURE_DAYS} days in {lake}")
    return lake


def run_graph(settings: Settings, days: list[date]) -> dg.ExecuteInProcessResult:
    """The whole graph with its checks for the days, in this process on an ephemeral instance."""
    import dagster as dg

    from climate_assets.constants import WHOLE_GRAPH_JOB
    from climate_assets.definitions import build_definitions
    from climate_assets.partitions import range_tags
    from climate_cli.demo import quiet_console

    job = build_definitions(settings).resolve_job_def(WHOLE_GRAPH_JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(
            instance=instance,
            tags=range_tags(days[0], days[-1]),
            raise_on_error=False,
            run_config=quiet_console(),
        )


def report_checks(result: dg.ExecuteInProcessResult, echo: Callable[[str], None]) -> int:
    """Echo each check's result, sorted by asset and check; the number that failed."""
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
    return failed


def report_step_failures(result: dg.ExecuteInProcessResult, echo: Callable[[str], None]) -> bool:
    """Echo each failed step's cause; whether one failed for another reason than held data."""
    from climate_assets.steps.failures import step_failure_cause, step_failure_held

    could_not_run = False
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            cause = step_failure_cause(event.event_specific_data)
            could_not_run |= not step_failure_held(event.event_specific_data)
            echo(f"  STEP FAILED  {event.step_key}: {cause}")
    return could_not_run


def run_checks(
    lake_root: Path | None, state_dir: Path | None, echo: Callable[[str], None] = print
) -> int:
    """Materialize the graph over the landing zone with every check; the exit code: 0 all
    passed, 1 a check failed (or a day was held back), 3 a step could not run."""
    from climate_cli.demo import environment_lake, landing_dates
    from climate_cli.errors import EXIT_COULD_NOT_RUN, EXIT_HELD_BACK, EXIT_OK

    state = Path(state_dir or tempfile.mkdtemp(prefix="climate-check-")).resolve()
    lake = fixture_lake(lake_root, state, echo)
    settings = check_settings(state, lake)
    days = landing_dates(environment_lake(settings))
    if not days:
        echo(f"No landing zone under {lake}/raw: nothing to check")
        return EXIT_HELD_BACK
    echo(f"Running every asset and its checks for {days[0]} .. {days[-1]}")
    result = run_graph(settings, days)
    failed = report_checks(result, echo)
    could_not_run = report_step_failures(result, echo)
    outcome = "succeeded" if result.success else "FAILED"
    echo(f"{len(result.get_asset_check_evaluations())} check(s), {failed} failed; run {outcome}")
    if could_not_run:
        return EXIT_COULD_NOT_RUN
    return EXIT_OK if result.success and failed == 0 else EXIT_HELD_BACK
