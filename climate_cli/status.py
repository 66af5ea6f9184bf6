"""``climate-assets status``: is the pipeline healthy, and what did it do this week?

Everything comes from the project's Dagster instance (what the UI shows) through its filtered,
limited queries: materializations and failed materializations of each job's assets in the
last 7 days, run records by id or by status, the per-partition status cache, the latest check
executions, instigator states and daemon heartbeats. No query reads every event of every run;
the only per-run event reads are the step stats of the runs in progress right now.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from climate_glue.contract import QUARANTINE_PREFIX
from climate_glue.lake import Lake
from climate_glue.quarantine import REASON_SUFFIX

from climate_assets.constants import DERIVED_ASSETS, PROCESSED_ASSETS
from climate_assets.dagster_compat import IN_PROGRESS_RUN_STATUSES, InstigatorStatus
from climate_assets.job_specs import JOB_SPECS
from climate_assets.partitions import days_of, range_text, run_range, stretches
from climate_assets.settings import Settings
from climate_assets.steps.failures import step_failure_cause

DAY = 24 * 3600.0
WINDOWS = {"24h": DAY, "7d": 7 * DAY}
TREND_RUNS = 30  # marks in the duration chart
RECORD_LIMIT = 5000  # materializations per asset per 7 days (a range run records one per day)
RUN_LIMIT = 200  # runs in progress, failed runs of the last 24 h
CAUSES_SHOWN = 10  # failed runs whose steps' causes an alarm names
CHECK_HISTORY = 20  # executions per blocking check looked at for held-back days
FRESH_BY_HOUR_UTC = 9  # yesterday's partition is due by 09:00 UTC (assets/freshness.py)
DAEMON_HEARTBEAT_SECONDS = 300
DATED_ASSETS = (*PROCESSED_ASSETS[1:], *DERIVED_ASSETS)
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
FAILED_MARK = "×"

# Runs not finished: queued, not started, or in progress (Dagster's statuses for that).
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    *IN_PROGRESS_RUN_STATUSES,
]


@dataclass
class JobRun:
    """One run of a Glue job: the materializations (or failures) of its assets in one Dagster run."""

    run_id: str
    state: str  # succeeded | failed | running
    when: float  # timestamp of the materialization (or failure)
    seconds: float | None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    glue_run_id: str | None = None
    dpu_seconds: float | None = None
    cost_usd: float | None = None
    partitions: str | None = None


@dataclass
class WindowStats:
    runs: int
    succeeded: int
    failed: int
    success_rate: float | None
    median_seconds: float | None
    worst_seconds: float | None
    rows_loaded: int
    rows_rejected: int
    cost_usd: float | None


@dataclass
class JobStatus:
    job: str
    assets: list[str]
    last_run: JobRun | None
    windows: dict[str, WindowStats]
    trend: str  # one mark per run, oldest first
    trend_seconds: list[float | None]


@dataclass
class Step:
    key: str
    state: str  # succeeded | failed | running | waiting | skipped
    waits_on: list[str] = field(default_factory=list)


@dataclass
class ActiveRun:
    run_id: str
    status: str
    job: str
    assets: list[str]
    partitions: str | None
    created: float
    steps: list[Step]


@dataclass
class PartitionProblem:
    day: str
    problem: str  # missing | failed | in progress | held back
    check: str | None = None


@dataclass
class Alarm:
    kind: str
    message: str
    action: str


@dataclass
class Status:
    generated_at: float
    days: int
    jobs: list[JobStatus]
    active: list[ActiveRun]
    partitions: dict[str, list[PartitionProblem]]
    alarms: list[Alarm]

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- reading the instance


def _value(metadata: dict, key: str):
    entry = metadata.get(key)
    return None if entry is None else entry.value


def _number(metadata: dict, key: str) -> float | None:
    value = _value(metadata, key)
    return float(value) if isinstance(value, int | float) else None


def _partitions_of(tags: dict) -> str | None:
    days = run_range(tags)
    return None if days is None else range_text(days.start, days.end)


def _run_days(tags: dict) -> list[str]:
    days = run_range(tags)
    return [] if days is None else days_of(days.start, days.end)


def _run_records(instance: dg.DagsterInstance, run_ids: Iterable[str]) -> dict[str, dg.RunRecord]:
    ids = sorted(set(run_ids))
    records: dict[str, dg.RunRecord] = {}
    for i in range(0, len(ids), 100):
        chunk = ids[i : i + 100]
        for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=chunk)):
            records[record.dagster_run.run_id] = record
    return records


def _run_seconds(record: dg.RunRecord | None) -> float | None:
    if record is None or record.start_time is None:
        return None
    end = record.end_time or time.time()
    return max(0.0, end - record.start_time)


def _succeeded_run(record: dg.EventLogRecord) -> JobRun:
    """The job run of a materialization, from the metadata the job reported."""
    meta = record.asset_materialization.metadata
    loaded = _number(meta, "rows")
    rejected = _number(meta, "rows_rejected")
    duplicates = _number(meta, "duplicates_dropped")
    read = None
    if loaded is not None and rejected is not None:
        read = int(loaded + rejected + (duplicates or 0))
    return JobRun(
        run_id=record.run_id,
        state="succeeded",
        when=record.timestamp,
        seconds=_number(meta, "glue_execution_seconds"),
        rows_read=read,
        rows_loaded=None if loaded is None else int(loaded),
        rows_rejected=None if rejected is None else int(rejected),
        glue_run_id=_value(meta, "glue_job_run_id"),
        dpu_seconds=_number(meta, "glue_dpu_seconds"),
        cost_usd=_number(meta, "glue_cost_usd"),
    )


def _planned(
    instance: dg.DagsterInstance, records_filter: dg.AssetRecordsFilter
) -> Sequence[dg.EventLogRecord]:
    """The planned materializations of an asset: a step failure records no failure event per
    asset, only the plan and the run's failure."""
    with warnings.catch_warnings():
        # Deprecated for Dagster 2.0 with no replacement in 1.13 for planned events (the
        # general get_event_records is deprecated too); revisit when upgrading.
        warnings.filterwarnings(
            "ignore",
            message="Function `AssetMethods.fetch_planned_materializations` is deprecated",
            category=DeprecationWarning,
        )
        return instance.fetch_planned_materializations(records_filter, limit=RECORD_LIMIT).records


def job_runs(instance: dg.DagsterInstance, job: str, since: float) -> list[JobRun]:
    """The job's runs since ``since``, newest first: one per Dagster run that materialized (or
    failed to materialize) its assets. A range run records one event per day: counted once."""
    by_run: dict[str, JobRun] = {}
    for key in JOB_SPECS[job].assets:
        records_filter = dg.AssetRecordsFilter(asset_key=key, after_timestamp=since)
        for record in instance.fetch_materializations(records_filter, limit=RECORD_LIMIT).records:
            run = by_run.get(record.run_id)
            if run is None or run.state != "succeeded":
                by_run[record.run_id] = _succeeded_run(record)
        # Planned without a materialization: a failed (or still running) job run.
        for record in _planned(instance, records_filter):
            by_run.setdefault(
                record.run_id,
                JobRun(run_id=record.run_id, state="planned", when=record.timestamp, seconds=None),
            )
    runs = _run_records(instance, by_run)
    for run_id, job_run in list(by_run.items()):
        record = runs.get(run_id)
        if record is None:
            continue
        if job_run.state == "planned":
            run_status = record.dagster_run.status
            if run_status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                job_run.state = "failed"
            elif run_status in IN_PROGRESS:
                job_run.state = "running"
            else:  # the run succeeded without this asset (e.g. an upstream check skipped it)
                del by_run[run_id]
                continue
        job_run.partitions = _partitions_of(record.dagster_run.tags)
        if job_run.seconds is None:
            job_run.seconds = _run_seconds(record)
        if (
            job_run.state == "succeeded"
            and record.dagster_run.status == dg.DagsterRunStatus.FAILURE
        ):
            job_run.state = "succeeded (run failed later)"
    return sorted(by_run.values(), key=lambda r: r.when, reverse=True)


def window_stats(runs: Sequence[JobRun]) -> WindowStats:
    seconds = [r.seconds for r in runs if r.seconds is not None]
    succeeded = sum(1 for r in runs if r.state.startswith("succeeded"))
    failed = sum(1 for r in runs if r.state == "failed")
    costs = [r.cost_usd for r in runs if r.cost_usd is not None]
    return WindowStats(
        runs=len(runs),
        succeeded=succeeded,
        failed=failed,
        success_rate=round(succeeded / len(runs), 4) if runs else None,
        median_seconds=round(statistics.median(seconds), 1) if seconds else None,
        worst_seconds=round(max(seconds), 1) if seconds else None,
        rows_loaded=sum(r.rows_loaded or 0 for r in runs),
        rows_rejected=sum(r.rows_rejected or 0 for r in runs),
        cost_usd=round(sum(costs), 4) if costs else None,
    )


def sparkline(runs: Sequence[JobRun]) -> str:
    """One mark per run, oldest first: the height is the duration; a failed run is ``×``."""
    seconds = [r.seconds for r in runs if r.seconds is not None]
    top = max(seconds) if seconds else 0.0
    marks = []
    for run in runs:
        if run.state == "failed":
            marks.append(FAILED_MARK)
        elif run.seconds is None or top <= 0:
            marks.append(SPARK_BLOCKS[0])
        else:
            marks.append(SPARK_BLOCKS[min(7, int(run.seconds / top * 7.999))])
    return "".join(marks)


def job_statuses(instance: dg.DagsterInstance, now: float) -> list[JobStatus]:
    statuses = []
    for job, spec in JOB_SPECS.items():
        runs = job_runs(instance, job, now - WINDOWS["7d"])
        last = runs[0] if runs else None
        if last is None:  # nothing this week: the latest materialization ever, if any
            event = instance.get_latest_materialization_event(spec.assets[0])
            if event is not None:
                runs_ever = job_runs(instance, job, event.timestamp - 1)
                last = runs_ever[0] if runs_ever else None
        trend = list(reversed(runs[:TREND_RUNS]))
        statuses.append(
            JobStatus(
                job=job,
                assets=[k.to_user_string() for k in spec.assets],
                last_run=last,
                windows={
                    name: window_stats([r for r in runs if r.when >= now - span])
                    for name, span in WINDOWS.items()
                },
                trend=sparkline(trend),
                trend_seconds=[r.seconds for r in trend],
            )
        )
    return statuses


def _step_states(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[Step]:
    """Steps of a run in progress and, for those not started, the steps they wait on."""
    if run.execution_plan_snapshot_id is None:
        return []
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    to_run = set(plan.step_keys_to_execute)
    # get_run_step_stats reads this one run's step events; only runs in progress get here.
    stats = {s.step_key: s for s in instance.get_run_step_stats(run.run_id)}
    states = {}
    for key, stat in stats.items():
        states[key] = {
            "SUCCESS": "succeeded",
            "FAILURE": "failed",
            "SKIPPED": "skipped",
            "IN_PROGRESS": "running",
        }.get(stat.status.value if stat.status else "IN_PROGRESS", "running")
    steps = []
    for snap in plan.steps:
        if snap.key not in to_run:
            continue
        upstream = sorted(
            {h.step_key for i in snap.inputs for h in i.upstream_output_handles} & to_run
        )
        state = states.get(snap.key, "waiting")
        waits = [u for u in upstream if states.get(u) != "succeeded"] if state == "waiting" else []
        if state == "waiting" and run.status == dg.DagsterRunStatus.QUEUED:
            waits = ["the run queue", *waits]
        steps.append(Step(snap.key, state, waits))
    return steps


def active_runs(instance: dg.DagsterInstance) -> list[ActiveRun]:
    active = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS), limit=RUN_LIMIT):
        record = instance.get_run_record_by_id(run.run_id)
        active.append(
            ActiveRun(
                run_id=run.run_id,
                status=run.status.value,
                job=run.job_name,
                assets=sorted(k.to_user_string() for k in run.asset_selection or ()),
                partitions=_partitions_of(run.tags),
                created=record.create_timestamp.timestamp() if record else 0.0,
                steps=_step_states(instance, run),
            )
        )
    return active


def recent_days(days: int, now: float) -> list[str]:
    """The last ``days`` daily partitions (the newest is yesterday, UTC)."""
    yesterday = datetime.fromtimestamp(now, UTC).date() - timedelta(days=1)
    return [day.isoformat() for day in days_of(yesterday - timedelta(days=days - 1), yesterday)]


def _held_back(
    instance: dg.DagsterInstance, key: dg.AssetKey, check_names: Sequence[str], days: set[str]
) -> dict[str, str]:
    """Days of ``days`` whose newest blocking-check execution for the asset failed: day -> check.

    Dagster records check results per run, so a run's days are its partition (range) tags, or
    the ``failing_days`` the job put in the check's metadata.
    """
    executions = []
    for name in check_names:
        check_key = dg.AssetCheckKey(key, name)
        # The instance has only the latest execution publicly; the history (limited) is on its
        # event log storage, the same call the UI's check page makes.
        history = instance.event_log_storage.get_asset_check_execution_history(
            check_key, limit=CHECK_HISTORY
        )
        executions += [(name, e) for e in history]
    runs = _run_records(instance, (e.run_id for _, e in executions))
    # Per check, each day is decided by that check's newest execution covering it.
    decided: dict[tuple[str, str], bool] = {}
    for name, execution in sorted(executions, key=lambda x: x[1].create_timestamp, reverse=True):
        record = runs.get(execution.run_id)
        if record is None or execution.status.value not in ("SUCCEEDED", "FAILED"):
            continue  # planned, not evaluated (the step failed before its checks)
        evaluation = execution.event.dagster_event.event_specific_data
        run_days = _run_days(record.dagster_run.tags)
        bad: set[str] = set()
        if execution.status.value == "FAILED":
            failing = evaluation.metadata.get("failing_days")
            bad = set(failing.value) if failing is not None else set(run_days)
        for day in run_days:
            decided.setdefault((name, day), day in bad)
    held: dict[str, str] = {}
    for (name, day), failed in sorted(decided.items()):
        if failed and day in days:
            held.setdefault(day, name)
    return held


def partition_problems(
    instance: dg.DagsterInstance, defs: dg.Definitions, window: list[str]
) -> dict[str, list[PartitionProblem]]:
    graph = defs.resolve_asset_graph()
    problems: dict[str, list[PartitionProblem]] = {}
    for key in DATED_ASSETS:
        node = graph.get(key)
        statuses = instance.get_status_by_partition(key, window, node.partitions_def) or {}
        blocking = [
            check.name
            for check_key in node.check_keys
            for check in [graph.get_check_spec(check_key)]
            if check.blocking
        ]
        held = _held_back(instance, key, blocking, set(window))
        found = []
        for day in window:
            state = statuses.get(day)
            name = state.value if state is not None else None
            if name == "FAILED":
                found.append(PartitionProblem(day, "failed"))
            elif name == "IN_PROGRESS":
                found.append(PartitionProblem(day, "in progress"))
            elif name != "MATERIALIZED":
                found.append(PartitionProblem(day, "missing"))
            elif day in held:
                found.append(PartitionProblem(day, "held back", held[day]))
        problems[key.to_user_string()] = found
    return problems


def quarantined(lake: Lake) -> list[dict]:
    """Reason records of the files in quarantine, newest first."""
    reasons = []
    for key in lake.list_keys(QUARANTINE_PREFIX):
        if key.endswith(REASON_SUFFIX):
            try:
                reasons.append(json.loads(lake.read_bytes(key)))
            except (OSError, ValueError):
                reasons.append({"key": key[: -len(REASON_SUFFIX)], "reason": "unreadable reason"})
    return sorted(reasons, key=lambda r: r.get("quarantined_at", ""), reverse=True)


def _instigators(instance: dg.DagsterInstance, defs: dg.Definitions) -> list[tuple[str, str]]:
    """(name, "running" | "stopped") of every sensor and schedule: the stored state where there
    is one (a start or stop in the UI), else the default declared in code."""
    stored = {state.name: state.status for state in instance.all_instigator_state()}
    found = []
    for item in [*defs.sensors, *defs.schedules]:
        status = stored.get(item.name)
        if status is None or status == InstigatorStatus.DECLARED_IN_CODE:
            running = item.default_status == dg.DefaultSensorStatus.RUNNING or (
                item.default_status == dg.DefaultScheduleStatus.RUNNING
            )
        else:
            running = status in (InstigatorStatus.RUNNING, InstigatorStatus.AUTOMATICALLY_RUNNING)
        found.append((item.name, "running" if running else "stopped"))
    return found


def _step_causes(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Each failed step of a run with its cause in one line (the job's own message)."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=5
    ).records
    return [
        f"{r.event_log_entry.step_key}: "
        f"{step_failure_cause(r.event_log_entry.dagster_event.step_failure_data)}"
        for r in records
    ]


def _failed_run_alarms(instance: dg.DagsterInstance, now: float) -> list[Alarm]:
    """A run failed in the last day: its cause (the newest runs only) and the command to re-run."""
    found = []
    failed = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE],
            updated_after=datetime.fromtimestamp(now - DAY, UTC),
        ),
        limit=RUN_LIMIT,
    )
    for index, run in enumerate(failed):
        part = _partitions_of(run.tags)
        assets = ",".join(sorted(k.to_user_string() for k in run.asset_selection or ()))
        rerun = "climate-assets materialize" + (f" --select {assets}" if assets else "")
        if part:
            first, _, last = part.partition("..")
            rerun += f" --from {first} --to {last or first}"
        # The causes of the newest failed runs (one query each; older ones: in the UI).
        causes = "; ".join(_step_causes(instance, run.run_id)) if index < CAUSES_SHOWN else ""
        found.append(
            Alarm(
                "failed run",
                f"run {run.run_id} ({run.job_name}, {part or 'unpartitioned'}) failed"
                + (f": {causes}" if causes else ""),
                f"fix the cause (the step's whole error is in the UI, Runs > {run.run_id[:8]}),"
                f" then re-run: {rerun}",
            )
        )
    return found


def _freshness_alarms(
    partitions: dict[str, list[PartitionProblem]], window: list[str], now: float
) -> list[Alarm]:
    """Yesterday's partition of an asset is missing (not held back) after the hour it is due."""
    yesterday = window[-1]
    due = datetime.fromisoformat(yesterday).replace(tzinfo=UTC) + timedelta(
        days=1, hours=FRESH_BY_HOUR_UTC
    )
    if now < due.timestamp():
        return []
    return [
        Alarm(
            "freshness overdue",
            f"{asset}: partition {yesterday} was due by {FRESH_BY_HOUR_UTC:02d}:00 UTC",
            "check that yesterday's files landed (raw/<dataset>/date=...), that the "
            "arrival sensors run, or run: climate-assets materialize "
            f"--from {yesterday} --to {yesterday}",
        )
        for asset, problems in partitions.items()
        if any(p.day == yesterday and p.problem != "held back" for p in problems)
    ]


def _quarantine_alarms(lake: Lake) -> list[Alarm]:
    """Files wait in quarantine: how many, and the newest one's reason."""
    reasons = quarantined(lake)
    if not reasons:
        return []
    newest = reasons[0]
    return [
        Alarm(
            "quarantine",
            f"{len(reasons)} file(s) in {QUARANTINE_PREFIX}/; newest {newest.get('key')}: "
            f"{newest.get('reason')}",
            f"fix each file and upload it again (climate-assets upload), then delete it and "
            f"its {REASON_SUFFIX} from {QUARANTINE_PREFIX}/",
        )
    ]


def _reject_rate_alarms(jobs: list[JobStatus], settings: Settings) -> list[Alarm]:
    """A job's last run rejected more of the rows it read than the threshold allows."""
    found = []
    for job in jobs:
        last = job.last_run
        if last is None or not last.rows_read or last.rows_rejected is None:
            continue
        rate = last.rows_rejected / last.rows_read
        if rate > settings.max_reject_rate:
            found.append(
                Alarm(
                    "reject rate",
                    f"{job.job}: {last.rows_rejected} of {last.rows_read} rows rejected "
                    f"({rate:.1%} > {settings.max_reject_rate:.1%}) in run {last.run_id}",
                    "read the rejects (rejects/<dataset>/date=.../, column `rule`), fix the "
                    "source file and re-run those days",
                )
            )
    return found


def _stopped_alarms(instance: dg.DagsterInstance, defs: dg.Definitions) -> list[Alarm]:
    """A sensor or schedule is stopped."""
    return [
        Alarm(
            "stopped",
            f"{name} is stopped",
            f"start it in the UI (Automation > {name}) or: dagster sensor/schedule start",
        )
        for name, state in _instigators(instance, defs)
        if state == "stopped"
    ]


def _daemon_alarms(instance: dg.DagsterInstance, now: float) -> list[Alarm]:
    """No daemon has sent a heartbeat lately: nothing automatic moves."""
    heartbeats = instance.get_daemon_heartbeats()
    newest = max((h.timestamp for h in heartbeats.values()), default=0.0)
    if now - newest <= DAEMON_HEARTBEAT_SECONDS:
        return []
    return [
        Alarm(
            "daemon",
            "no Dagster daemon heartbeat in the last 5 minutes: sensors, the schedule and "
            "queued runs do not move",
            "run `climate-assets dev` (webserver and daemon)",
        )
    ]


def alarms(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    settings: Settings,
    lake: Lake,
    jobs: list[JobStatus],
    partitions: dict[str, list[PartitionProblem]],
    window: list[str],
    now: float,
) -> list[Alarm]:
    """What needs an operator, one rule each, in this order."""
    return [
        *_failed_run_alarms(instance, now),
        *_freshness_alarms(partitions, window, now),
        *_quarantine_alarms(lake),
        *_reject_rate_alarms(jobs, settings),
        *_stopped_alarms(instance, defs),
        *_daemon_alarms(instance, now),
    ]


def status(
    instance: dg.DagsterInstance, settings: Settings, days: int, now: float | None = None
) -> Status:
    from climate_assets.definitions import build_definitions
    from climate_assets.environments import resources_for

    now = time.time() if now is None else now
    defs = build_definitions(settings)
    lake = resources_for(settings)["lake"].process_config_and_initialize().open()
    window = recent_days(days, now)
    jobs = job_statuses(instance, now)
    partitions = partition_problems(instance, defs, window)
    return Status(
        generated_at=now,
        days=days,
        jobs=jobs,
        active=active_runs(instance),
        partitions=partitions,
        alarms=alarms(instance, defs, settings, lake, jobs, partitions, window, now),
    )


# ---------------------------------------------------------------- the terminal view


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ranges(days: list[str]) -> str:
    """2024-07-01, 2024-07-02, 2024-07-04 -> 2024-07-01..2024-07-02, 2024-07-04."""
    return ", ".join(
        range_text(first, last) + ("" if first == last else f" ({len(days_of(first, last))} days)")
        for first, last in stretches(days)
    )


def render(report: Status) -> str:
    lines = [f"Pipeline status at {_when(report.generated_at)}", "", "Glue jobs"]
    for job in report.jobs:
        lines.append(f"  {job.job}  ({', '.join(job.assets)})")
        last = job.last_run
        if last is None:
            lines.append("    last run   never")
        else:
            lines.append(
                f"    last run   {last.state} {_when(last.when)} in {_secs(last.seconds)}"
                f"  days {last.partitions or '-'}  run {last.run_id[:8]}"
            )
            lines.append(
                f"               read {_count(last.rows_read)}  loaded {_count(last.rows_loaded)}"
                f"  rejected {_count(last.rows_rejected)}  glue run {last.glue_run_id or '-'}"
                + (
                    f"  {last.dpu_seconds:.0f} DPU-s ${last.cost_usd:.4f}"
                    if last.dpu_seconds is not None and last.cost_usd is not None
                    else ""
                )
            )
        for name, w in job.windows.items():
            rate = "-" if w.success_rate is None else f"{w.success_rate:.0%}"
            cost = "" if w.cost_usd is None else f"  cost ${w.cost_usd:.2f}"
            lines.append(
                f"    {name:<4} runs {w.runs:>3}  ok {rate:>4}  median {_secs(w.median_seconds)}"
                f"  worst {_secs(w.worst_seconds)}  loaded {w.rows_loaded:,}"
                f"  rejected {w.rows_rejected:,}{cost}"
            )
        lines.append(f"    trend      {job.trend or '(no runs in 7 days)'}")
    lines += ["", "Running or queued now"]
    if not report.active:
        lines.append("  nothing")
    for run in report.active:
        lines.append(
            f"  {run.status.lower():<9} run {run.run_id[:8]} {run.job}"
            f"  days {run.partitions or '-'}  since {_when(run.created)}"
        )
        for step in run.steps:
            waits = f" on {', '.join(step.waits_on)}" if step.waits_on else ""
            lines.append(f"    {step.state:<9} {step.key}{waits}")
    lines += ["", f"Partitions of the last {report.days} days that need attention"]
    for asset, problems in report.partitions.items():
        if not problems:
            lines.append(f"  {asset:<20} all {report.days} materialized")
            continue
        by_kind: dict[str, list[str]] = {}
        for p in problems:
            label = p.problem + (f" (check {p.check})" if p.check else "")
            by_kind.setdefault(label, []).append(p.day)
        for label, days in by_kind.items():
            lines.append(f"  {asset:<20} {label}: {_ranges(days)}")
    lines += ["", "Alarms"]
    if not report.alarms:
        lines.append("  none")
    for alarm in report.alarms:
        lines.append(f"  [{alarm.kind}] {alarm.message}")
        lines.append(f"      do: {alarm.action}")
    return "\n".join(lines)
