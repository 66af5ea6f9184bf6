"""``climate-assets demo``: a landing zone if there is none, the whole graph, and a summary.

The run goes through the project's Dagster instance (PostgreSQL storage), so it shows in the
UI of ``climate-assets dev`` afterwards like any other run.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
from climate_glue.checks import ACCEPTABLE_CHECKS, CHECK_REJECT_RATE, CHECK_ROW_COUNT
from climate_glue.contract import (
    CURATED_PREFIX,
    DERIVED,
    EXPORTS_PREFIX,
    PROCESSED_PREFIX,
    RAW_DATASETS,
    REJECTS_PREFIX,
    WAREHOUSE_SCHEMA,
    date_partition,
)
from climate_glue.lake import Lake
from climate_glue.raw import DATE_FOLDER
from psycopg import sql

from climate_assets.constants import WHOLE_GRAPH_JOB
from climate_assets.definitions import build_definitions
from climate_assets.defs.quality.checks import ACCEPT_REASON_TAG, ACCEPT_TAG
from climate_assets.partitions import range_tags
from climate_assets.settings import ENV_MAX_REJECT_RATE, Settings, debug_requested
from climate_assets.steps.failures import step_failure_cause, step_failure_held
from climate_assets.steps.recovery import process_tags, reap_dead_runs


def quiet_console() -> dict:
    """Run config for an in-process run whose progress and failures are echoed from its events:
    Dagster's console logger (its error records carry stack traces) shows only with
    ``--debug`` / CLIMATE_DEBUG=1, then warnings and errors."""
    level = "WARNING" if debug_requested() else "CRITICAL"
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def landing_dates(lake: Lake) -> list[date]:
    """Days present in the climate landing folder (raw/climate/date=YYYY-MM-DD/)."""
    days = []
    for name in lake.list_dirs("raw/climate"):
        match = DATE_FOLDER.match(name)
        if match:
            try:
                days.append(date.fromisoformat(match.group(1)))
            except ValueError:  # the shape of a date, not a real one
                continue
    return sorted(days)


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    seconds: float
    materializations: dict[str, dict] = field(default_factory=dict)  # last metadata per asset
    errors: list[str] = field(default_factory=list)
    could_not_run: bool = False  # a step failed for another reason than data held back
    failed_checks: list[FailedCheck] = field(default_factory=list)  # blocking ones


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    metadata: dict


# The setting that governs a check's threshold, where one does (the others are the contract's).
CHECK_SETTINGS = {"reject_rate": ENV_MAX_REJECT_RATE}
DATASET_OF_ASSET = {dataset.asset: name for name, dataset in RAW_DATASETS.items()}


def describe_failed_check(failed: FailedCheck, settings: Settings) -> list[str]:
    """Which check failed, for which days, where the rejected rows are, what sets the bar."""
    meta = failed.metadata
    days = meta.get("failing_days") or []
    lines = [
        f"  {failed.asset} / {failed.check}: failed for "
        + (", ".join(str(day) for day in days) if days else "the run")
    ]
    if "rows_rejected" in meta:
        lines.append(f"    {meta['rows_rejected']} of {meta.get('rows_read')} rows rejected")
    dataset = DATASET_OF_ASSET.get(failed.asset)
    if dataset:
        folders = [date_partition(day) for day in days] or [date_partition("YYYY-MM-DD")]
        for folder in folders:
            lines.append(
                f"    rejected rows: {settings.lake_root / REJECTS_PREFIX / dataset / folder}/"
            )
    for sample in (meta.get("sample_rejects") or meta.get("sample_keys") or [])[:3]:
        lines.append(f"    e.g. {sample}")
    lines += _band_lines(failed.check, meta)
    setting = CHECK_SETTINGS.get(failed.check)
    if setting:
        value = meta.get("max_reject_rate", settings.max_reject_rate)
        lines.append(f"    threshold: {setting}={value} (raise it, or fix the files, and re-run)")
    elif failed.check not in ACCEPTABLE_CHECKS:
        lines.append("    threshold: the data contract (see the check's description in the UI)")
    if failed.check in ACCEPTABLE_CHECKS:
        lines += _accept_lines(failed, days)
    return lines


def _band_lines(check: str, meta: dict) -> list[str]:
    """The band a judgement check's failing days fell outside of."""
    failing = meta.get("failing_days")
    if check == CHECK_ROW_COUNT and isinstance(failing, dict):
        runs = meta.get("history_materializations")
        band = meta.get("allowed_rows_per_day")
        return [
            f"    {day}: rows {rows:,} outside {band} (half to twice the median of the last"
            f" {runs} runs)"
            for day, rows in sorted(failing.items())
        ]
    if check == CHECK_REJECT_RATE:
        rates = meta.get("reject_rate_by_day") or {}
        limit = meta.get("max_reject_rate")
        return [
            f"    {day}: reject rate {rates.get(day, meta.get('reject_rate'))} above {limit}"
            for day in (failing or [])
        ]
    return []


def _accept_lines(failed: FailedCheck, days: list) -> list[str]:
    """How to accept the held days if the change is right (contract section 5)."""
    entry = f"{failed.asset}:{failed.check}"
    first, last = (min(days), max(days)) if days else ("DAY", "DAY")
    return [
        "    if the change is right, accept it (on the record, with a reason):",
        f"      climate-assets materialize --select {failed.asset} --from {first} --to {last}"
        f" --accept {entry} --reason '...'",
        f"      or in the UI's launchpad, run tags {ACCEPT_TAG}={entry} and"
        f" {ACCEPT_REASON_TAG}=<why>",
    ]


def _metadata_values(materialization) -> dict:
    return {key: value.value for key, value in materialization.metadata.items()}


# The events the progress shows as the run writes them: a few per step. A range's run writes a
# materialization (several KB of metadata) and a planned one per asset and day; reading those back
# as they come took CPU from the run itself, so its outcome takes them from the run's result.
PROGRESS_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


class RunProgress:
    """Echoes a run's step events as the run writes them, and gathers its outcome."""

    def __init__(
        self, instance: dg.DagsterInstance, outcome: RunOutcome, echo: Callable[[str], None]
    ):
        self.instance = instance
        self.outcome = outcome
        self.echo = echo
        self.started = time.perf_counter()
        self.cursor = None
        self.step_started: dict[str, float] = {}

    def drain(self) -> None:
        """Take the run's step events written since the last call."""
        run_id = self.outcome.run_id
        if not self.instance.has_run(run_id):
            return
        connection = self.instance.get_records_for_run(
            run_id, cursor=self.cursor, of_type=PROGRESS_EVENTS
        )
        self.cursor = connection.cursor
        for record in connection.records:
            event = record.event_log_entry.dagster_event
            if event is not None:
                self.take(event, time.perf_counter() - self.started)

    def take(self, event: dg.DagsterEvent, elapsed: float) -> None:
        step, kind, outcome = event.step_key or "", event.event_type_value, self.outcome
        if kind == "STEP_START":
            self.step_started[step] = elapsed
            self.echo(f"[{elapsed:6.1f}s] started   {step}")
        elif kind == "STEP_SUCCESS":
            took = elapsed - self.step_started.get(step, elapsed)
            self.echo(f"[{elapsed:6.1f}s] finished  {step} ({took:.1f}s)")
        elif kind == "STEP_FAILURE":
            outcome.errors.append(f"{step}: {step_failure_cause(event.event_specific_data)}")
            outcome.could_not_run |= not step_failure_held(event.event_specific_data)
            self.echo(f"[{elapsed:6.1f}s] FAILED    {step}")

    def take_result(self, result: dg.ExecuteInProcessResult) -> None:
        """The failed blocking checks and each asset's last materialization, from the run's
        result (its events, in memory)."""
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                self.outcome.failed_checks.append(
                    FailedCheck(
                        asset=evaluation.asset_key.to_user_string(),
                        check=evaluation.check_name,
                        metadata={k: v.value for k, v in evaluation.metadata.items()},
                    )
                )
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            self.outcome.materializations[materialization.asset_key.to_user_string()] = (
                _metadata_values(materialization)
            )


def run_whole_graph(
    settings: Settings,
    instance: dg.DagsterInstance,
    start: date,
    end: date,
    echo: Callable[[str], None] = print,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    extra_tags: dict[str, str] | None = None,
) -> RunOutcome:
    """Materialize every asset (or ``asset_selection``) for days start..end in one run, echoing
    progress as it goes; ``extra_tags`` (an acceptance, say) go on the run."""
    job = build_definitions(settings).resolve_job_def(WHOLE_GRAPH_JOB)
    outcome = RunOutcome(run_id=str(uuid.uuid4()), success=False, seconds=0.0)
    tags = {
        **range_tags(start, end),
        **process_tags(),  # so that a later run can tell if this one was killed
        **(extra_tags or {}),
    }
    for dead in reap_dead_runs(instance):  # killed runs: failed, their pool slots freed
        echo(f"Run {dead} was killed before it ended: marked failed")
    result: dict = {}

    def execute() -> None:
        try:
            result["value"] = job.execute_in_process(
                instance=instance,
                asset_selection=asset_selection,
                run_id=outcome.run_id,
                tags=tags,
                raise_on_error=False,
                run_config=quiet_console(),
            )
        except BaseException as exc:  # shown after the progress loop
            result["error"] = exc

    progress = RunProgress(instance, outcome, echo)
    worker = threading.Thread(target=execute, name="climate-demo-run", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.5)
        progress.drain()
    progress.drain()
    outcome.seconds = time.perf_counter() - progress.started
    if "error" in result:
        raise result["error"]
    progress.take_result(result["value"])
    outcome.success = result["value"].success
    outcome.could_not_run |= not outcome.success and not outcome.errors
    return outcome


def exit_code(outcome: RunOutcome) -> int:
    """0 published; 1 data held back (a held day, a quarantined file); 3 could not run."""
    from climate_cli.errors import EXIT_COULD_NOT_RUN, EXIT_HELD_BACK, EXIT_OK

    if outcome.success:
        return EXIT_OK
    return EXIT_COULD_NOT_RUN if outcome.could_not_run else EXIT_HELD_BACK


def environment_lake(settings: Settings) -> Lake:
    """The environment's lake (``resources_for``), as a run uses it."""
    from climate_assets.environments import resources_for

    return resources_for(settings)["lake"].process_config_and_initialize().open()


def warehouse_counts(settings: Settings) -> dict[str, int]:
    """Rows per table in the warehouse schema."""
    from climate_assets.environments import resources_for

    # The environment's warehouse (CLIMATE_WAREHOUSE_URL's server when set), as the run used it.
    warehouse = resources_for(settings)["warehouse"].process_config_and_initialize()
    tables = [d.asset for d in RAW_DATASETS.values()] + [d.asset for d in DERIVED]
    counts = {}
    with warehouse.connect() as conn:
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(table)
            )
            counts[table] = conn.execute(query).fetchone()[0]
    return counts


def summary(settings: Settings, outcome: RunOutcome, start: date, end: date) -> str:
    lake = settings.lake_root
    lines = [
        "",
        f"Run {outcome.run_id} {'succeeded' if outcome.success else 'FAILED'} in {outcome.seconds:.1f}s"
        f" for {start} .. {end}.",
    ]
    engines = sorted({m["engine"] for m in outcome.materializations.values() if "engine" in m})
    if engines:
        lines.append(f"Job scripts ran on the {' and '.join(engines)} engine (CLIMATE_ENGINE).")
    if outcome.errors:
        lines += ["", "Errors:"] + [f"  {error}" for error in outcome.errors]
    if outcome.failed_checks:
        lines += ["", "Blocking checks that failed (their days' downstream assets did not run):"]
        for failed in outcome.failed_checks:
            lines += describe_failed_check(failed, settings)
    if outcome.success:
        counts = warehouse_counts(settings)
        lines += ["", f"PostgreSQL schema {WAREHOUSE_SCHEMA} (rows per table):"]
        for table, rows in counts.items():
            meta = outcome.materializations.get(table, {})
            rejected = meta.get("rows_rejected")
            note = f"   {rejected} rejected ({lake / REJECTS_PREFIX})" if rejected else ""
            lines.append(f"  {table:<20} {rows:>9,}{note}")
    lines += [
        "",
        "Where the outputs are:",
        f"  lake root          {lake}",
        f"  processed Parquet  {lake / PROCESSED_PREFIX}/<asset>/year=YYYY/month=MM/day=DD/",
        f"  curated Parquet    {lake / CURATED_PREFIX}/<asset>/year=YYYY/month=MM/day=DD/",
        f"  CSV / JSON exports {lake / EXPORTS_PREFIX}/csv|json/<asset>/...",
        f"  rejected rows      {lake / REJECTS_PREFIX}/<dataset>/date=YYYY-MM-DD/",
        f"  Athena tables      DuckDB views {WAREHOUSE_SCHEMA}.<asset> in {settings.athena_database}",
        "",
        "Open the Dagster UI (lineage, runs, backfills) with:  uv run climate-assets dev",
    ]
    return "\n".join(lines)


def ensure_landing_zone(
    settings: Settings,
    locations: int,
    days: int,
    start: date,
    seed: int,
    echo: Callable[[str], None] = print,
) -> list[date]:
    lake = environment_lake(settings)
    present = landing_dates(lake)
    if present:
        echo(f"Landing zone found: {len(present)} day(s) under {settings.lake_root / 'raw'}")
        return present
    echo(
        f"No landing zone yet: generating {locations} locations x {days} days from {start} (seed {seed})"
    )
    # Imported here: generating imports numpy (0.07 s), which a run does not use.
    from climate_cli.generate import generate_landing_zone

    generated = generate_landing_zone(
        settings.lake_root, locations=locations, days=days, start=start, seed=seed
    )
    echo(
        f"  wrote {len(generated.files)} files: "
        + ", ".join(f"{k} {v:,} rows" for k, v in generated.rows.items())
    )
    return generated.days
