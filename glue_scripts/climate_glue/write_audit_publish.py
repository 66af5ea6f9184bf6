"""Write, audit, publish: the one skeleton every job follows (``write_audit_publish``).

A job supplies its steps (``JobSteps``): what it reads, how it transforms it, the parts that
stage its outputs and measure its checks, and its own materialization metadata. The skeleton
runs them in this order, so a failure at any step, or a blocking check that fails, leaves
published data as it was:

1. read, 2. transform: each timed as a stage of the job;
3. stage: the job's parts run side by side (``run_concurrently``), each staging outputs aside
   (lake folders under ``_staging/<run id>/``, a PostgreSQL staging table) or measuring the
   checks on them;
4. audit: the days whose blocking checks failed are held back (``audit``);
5. publish: the PostgreSQL rows of the other days are replaced, each table in one transaction,
   then their staged lake partitions are swapped into place (``publish``);
6. report through Pipes: each asset's materialization, then its checks (a held day fails its
   check by name there).

From the staging step on, the run's staging (folders and tables) is removed when the job ends,
whether it published or failed (``staging_area``): the one clean-up path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Generic, NamedTuple, TypeVar

from . import checks
from .checks import CheckResult
from .contract import WAREHOUSE_SCHEMA
from .engines import Engine
from .lake import Lake, open_lake
from .publish import StagedOutput, discard_staging
from .runtime import Job, Timings, run_concurrently
from .warehouse import StagedTable, drop_stages, resolve_dsn


@dataclass(frozen=True)
class Run:
    """One run of a job: what each of its steps reads."""

    job: Job
    lake: Lake
    days: list[date] | None  # None: an undated asset, read and published whole
    quality: checks.QualityConfig

    @property
    def engine(self) -> Engine:
        return self.job.engine

    @property
    def timings(self) -> Timings:
        return self.job.timings

    @property
    def run_id(self) -> str:
        return self.job.args.run_id


@dataclass(frozen=True)
class Staged:
    """What a part of the staging step produced for one asset; an asset's parts are merged."""

    asset: str
    outputs: tuple[StagedOutput, ...] = ()  # published for the days the audit lets through
    always: tuple[StagedOutput, ...] = ()  # published whatever the verdict (the rejects)
    table: StagedTable | None = None
    measures: checks.Measures | None = None
    check_results: tuple[CheckResult, ...] = ()

    def merged(self, other: Staged) -> Staged:
        return Staged(
            asset=self.asset,
            outputs=self.outputs + other.outputs,
            always=self.always + other.always,
            table=other.table if self.table is None else self.table,
            measures=other.measures if self.measures is None else self.measures,
            check_results=self.check_results + other.check_results,
        )


Inputs = TypeVar("Inputs")
Data = TypeVar("Data")


class JobSteps(ABC, Generic[Inputs, Data]):
    """What one kind of job supplies to the skeleton."""

    transform_stage = "transform"  # the transform step's name in the job's timings

    @property
    @abstractmethod
    def name(self) -> str:
        """The job in its messages: its asset, or the job's name."""

    @property
    @abstractmethod
    def assets(self) -> tuple[str, ...]:
        """The assets it materializes: one PostgreSQL table each."""

    @property
    @abstractmethod
    def daily(self) -> bool:
        """Whether it runs for a range of days (``--start-date``, ``--end-date``)."""

    @abstractmethod
    def read(self, run: Run) -> Inputs:
        """Read the job's inputs."""

    @abstractmethod
    def transform(self, run: Run, inputs: Inputs) -> Data:
        """The frames its outputs are written from."""

    @abstractmethod
    def parts(self, run: Run, data: Data, dsn: str) -> list[Callable[[], Staged]]:
        """The independent parts of the staging step, in the order they start; each stages
        outputs of one asset, or measures its checks. ``dsn``: the warehouse."""

    @abstractmethod
    def metadata(self, run: Run, data: Data, asset: str) -> dict:
        """What the job adds to ``asset``'s materialization metadata."""

    def notices(self, data: Data) -> list[str]:
        """Warnings for the run's log, once it has published."""
        return []


def write_audit_publish(job: Job, steps: JobSteps) -> None:
    """Run a job's steps in the skeleton's order (see the module's docstring)."""
    run = start_run(job, steps)
    with job.timings.stage("read"):
        inputs = steps.read(run)
    with job.timings.stage(steps.transform_stage):
        data = steps.transform(run, inputs)
    dsn = resolve_dsn(job.args.warehouse)  # once, not from each part
    with staging_area(run, dsn, steps.assets):
        staged = stage_outputs(run, steps.parts(run, data, dsn))
        verdict = audit({asset.asset: asset.check_results for asset in staged}, run.days)
        if not verdict.passed:
            job.pipes.log.error(verdict.describe(steps.name))
        publish(run, verdict, staged)
    report(run, steps, data, verdict, staged)


def start_run(job: Job, steps: JobSteps) -> Run:
    days = job.args.days if steps.daily else None
    if steps.daily and not days:
        raise ValueError(
            f"{steps.name} is partitioned by day: --start-date and --end-date are required"
        )
    return Run(
        job, open_lake(job.args.lake_root), days, checks.QualityConfig.from_json(job.args.quality)
    )


@contextmanager
def staging_area(run: Run, dsn: str, tables: Sequence[str]) -> Iterator[None]:
    """The run's staging, removed when the block ends however it ends: the staging tables of
    ``tables`` and the lake folder ``_staging/<run id>/``. When the block failed, a failure to
    remove them is noted on the block's error rather than raised in its place (the next run of
    the job removes them)."""
    try:
        yield
    except BaseException as exc:
        try:
            remove_staging(run, dsn, tables)
        except Exception as also:
            exc.add_note(f"its staging could not be removed ({also}); the next run removes it")
        raise
    remove_staging(run, dsn, tables)


def remove_staging(run: Run, dsn: str, tables: Sequence[str]) -> None:
    drop_stages(dsn, tables, run.run_id)
    discard_staging(run.lake, run.run_id)


def stage_outputs(run: Run, parts: list[Callable[[], Staged]]) -> list[Staged]:
    """Run the parts side by side, then merge their results per asset (in the order the assets
    first appear) with the operator's accepted exceptions applied to the checks (contract
    section 5)."""
    with run.timings.stage("outputs"):
        done = run_concurrently(parts, run.engine.concurrent_parts)
    by_asset: dict[str, Staged] = {}
    for part in done:
        had = by_asset.get(part.asset)
        by_asset[part.asset] = part if had is None else had.merged(part)
    return [
        replace(asset, check_results=tuple(run.quality.accept(asset.asset, [*asset.check_results])))
        for asset in by_asset.values()
    ]


# --------------------------------------------------------------------------- audit


class FailedCheck(NamedTuple):
    asset: str
    result: CheckResult


@dataclass(frozen=True)
class Audit:
    """The blocking checks' verdict on a job's staged outputs: which days may be published.

    A dated output holds back the days its failed checks name (``failing_days``), so one bad day
    of a range does not hold the others; an undated output (or a failure naming no day) is held
    back whole.
    """

    failed: tuple[FailedCheck, ...] = ()
    held: frozenset[date] = frozenset()
    everything: bool = False

    @property
    def passed(self) -> bool:
        return not self.failed

    def publish_days(self, days: list[date] | None) -> list[date] | None:
        """The days to publish (``None``: the whole unpartitioned output)."""
        if days is None:
            return None
        return [d for d in days if d not in self.held]

    @property
    def check_names(self) -> list[str]:
        return [f"{failure.asset}:{failure.result.name}" for failure in self.failed]

    def describe(self, job: str) -> str:
        """What was held back and why, naming each failed check with its counts."""
        what = ", ".join(sorted(d.isoformat() for d in self.held)) or "everything"
        reasons = "; ".join(
            f"{failure.asset}:{failure.result.name} ({_counts(failure.result)})"
            for failure in self.failed
        )
        return f"{job}: blocking check(s) failed on the staged output, not published: {what}: {reasons}"


_COUNT_KEYS = (
    "failing_days",
    "failing_rows",
    "duplicate_rows",
    "rows",
    "rows_read",
    "rows_rejected",
    "reject_rate",
    "max_reject_rate",
    "allowed_rows_per_day",
)


def _counts(result: CheckResult) -> str:
    return ", ".join(f"{k}={v}" for k, v in result.metadata.items() if k in _COUNT_KEYS)


def audit(results: Mapping[str, Sequence[CheckResult]], days: list[date] | None) -> Audit:
    """Judge the staged outputs by their blocking checks (asset -> its results); a warning
    check never holds back. A day held back by any asset of the job is held back for all of
    them, so the assets of one job stay consistent."""
    failed = tuple(
        FailedCheck(asset, result)
        for asset, asset_results in results.items()
        for result in asset_results
        if not result.passed and result.severity == checks.SEVERITY_ERROR
    )
    if not failed:
        return Audit()
    if days is None:
        return Audit(failed, frozenset(), everything=True)
    held: set[date] = set()
    for failure in failed:
        named = failure.result.metadata.get("failing_days")
        if not named:
            return Audit(failed, frozenset(days), everything=True)
        held.update(date.fromisoformat(str(d)) for d in named)
    return Audit(failed, frozenset(held & set(days)), everything=held >= set(days))


# --------------------------------------------------------------------------- publish


def publish(run: Run, verdict: Audit, staged: Iterable[Staged]) -> None:
    """PostgreSQL first (each table in one transaction), then the lake partitions, leaving the
    held-back days as they were; the ``always`` outputs (the rejects, which say why rows or a
    day were refused) are published whatever the verdict."""
    staged = list(staged)
    days = verdict.publish_days(run.days)
    with run.timings.stage("publish_postgres"):
        for asset in staged:
            if asset.table is not None and verdict.everything:
                asset.table.discard()
            elif asset.table is not None:
                asset.table.publish(days)
    with run.timings.stage("publish_lake"):
        for output in (output for asset in staged for output in asset.always):
            output.publish(run.lake)
        if not verdict.everything:
            for output in (output for asset in staged for output in asset.outputs):
                output.publish(run.lake, verdict.held)


# --------------------------------------------------------------------------- report


def report(
    run: Run, steps: JobSteps, data: object, verdict: Audit, staged: Iterable[Staged]
) -> None:
    """The job's notices, then each asset's materialization followed by its checks."""
    log = run.job.pipes.log
    for notice in steps.notices(data):
        log.warning(notice)
    for asset in staged:
        run.job.pipes.report_asset_materialization(
            asset_key=asset.asset,
            metadata={
                **_range_metadata(run.job),
                "engine": run.engine.name,
                "rows": asset.table.rows,
                "rows_per_day": checks.rows_per_day(asset.measures),
                **_held_metadata(verdict),
                **_accepted_metadata(asset.check_results),
                **steps.metadata(run, data, asset.asset),
                "postgres_table": f"{WAREHOUSE_SCHEMA}.{asset.asset}",
                **run.timings.metadata(),
            },
        )
        _report_checks(run.job, asset.asset, asset.check_results)


def _range_metadata(job: Job) -> dict:
    args = job.args
    if args.start_date is None:
        return {}
    return {
        "partition_start": args.start_date.isoformat(),
        "partition_end": args.end_date.isoformat(),
    }


def _held_metadata(verdict: Audit) -> dict:
    if verdict.passed:
        return {}
    held = "all" if verdict.everything else sorted(d.isoformat() for d in verdict.held)
    return {
        "held_back": {
            "raw_value": {"days": held, "checks": verdict.check_names},
            "type": "json",
        }
    }


def _accepted_metadata(results: Sequence[CheckResult]) -> dict:
    """What an operator accepted in this run (check -> days, by whom, why), on the record."""
    accepted = {r.name: r.metadata["accepted"] for r in results if "accepted" in r.metadata}
    return {"accepted": {"raw_value": accepted, "type": "json"}} if accepted else {}


def _report_checks(job: Job, asset: str, results: Sequence[CheckResult]) -> None:
    """Report check results through Pipes (after the asset's materialization)."""
    failed = [r.name for r in results if not r.passed]
    if failed:
        job.pipes.log.warning(f"{asset}: check(s) failed: {', '.join(failed)}")
    for result in results:
        job.pipes.report_asset_check(
            check_name=result.name,
            passed=result.passed,
            severity=result.severity,
            metadata={k: json_metadata(v) for k, v in result.metadata.items()},
            asset_key=asset,
        )


def json_metadata(value):
    """A metadata value as Pipes takes it: dicts and lists as JSON."""
    if isinstance(value, dict | list):
        return {"raw_value": value, "type": "json"}
    return value


def url_metadata(value: str) -> dict:
    return {"raw_value": value, "type": "url"}
