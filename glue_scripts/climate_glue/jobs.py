"""The two kinds of job: process a raw dataset, and calculate the derived metrics.

Both follow the same order (write, audit, publish), so a failure at any step, or a blocking
check that fails, leaves published data as it was:
read -> transform -> stage every output aside (lake staging folders, a PostgreSQL staging table)
and measure the checks on it -> audit: the days whose blocking checks failed are held back ->
replace the PostgreSQL rows of the other days in one transaction -> swap their staged lake
partitions into place -> report through Pipes (a held day fails its check by name there).

The data logic is the contract's SQL (``logic.py``), run by the job's engine (``--engine``);
this module only orders the work and names its parts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from . import checks, logic, metrics
from .contract import (
    CLIMATE,
    CURATED_PREFIX,
    DERIVED,
    EXPORTS_PREFIX,
    HEALTH,
    HOSPITAL,
    LOCATIONS,
    PROCESSED_PREFIX,
    REJECTS_PREFIX,
    SPARK_TYPES,
    WAREHOUSE_SCHEMA,
    Dataset,
    Derived,
)
from .engines import Engine, Frame
from .lake import Lake, open_lake
from .publish import StagedOutput, discard_staging, hive_partition, stage, stage_nothing
from .quarantine import quarantine
from .raw import (
    MissingPartitionError,
    RawFile,
    RawFileError,
    RawFilesError,
    file_problem,
    landing_strays,
    list_raw_files,
    read_header,
)
from .rules import rejected_rows, valid_rows, validate
from .runtime import Job, run_concurrently
from .warehouse import StagedTable, resolve_dsn, stage_load

EXPORT_FORMATS = ("csv", "json")


class UpstreamMissingError(RuntimeError):
    pass


def read_processed(
    engine: Engine, lake: Lake, prefix: str, types: dict[str, str], days: list[date] | None
) -> Frame:
    """A processed or curated dataset from the lake: the whole of it, or the given days."""
    if days is None:
        if not lake.exists(prefix):
            raise UpstreamMissingError(f"{prefix} is not in the lake yet: materialize it first")
        return engine.read_parquet(lake, prefix, types, None)
    missing = [d for d in days if not lake.exists(f"{prefix}/{hive_partition(d)}")]
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:5])
        raise UpstreamMissingError(
            f"{prefix} has no partition for {len(missing)} day(s) ({shown}{'...' if len(missing) > 5 else ''}):"
            " materialize it for those days first"
        )
    return engine.read_parquet(lake, prefix, types, days)


def read_staged(engine: Engine, lake: Lake, output: StagedOutput, types: dict[str, str]) -> Frame:
    """Exactly what a job staged, for its PostgreSQL load. A day none of whose rows survived
    the rules has no staged folder (it is published empty): its rows are none, not an error."""
    if output.days is None:
        return read_processed(engine, lake, output.staged, types, None)
    present = [d for d in output.days if lake.exists(f"{output.staged}/{hive_partition(d)}")]
    if not present:
        ddl = ", ".join(f"{name} {SPARK_TYPES[kind]}" for name, kind in types.items())
        return engine.frame([], ddl)
    return engine.read_parquet(lake, output.staged, types, present)


def _range_metadata(job: Job) -> dict:
    args = job.args
    if args.start_date is None:
        return {}
    return {
        "partition_start": args.start_date.isoformat(),
        "partition_end": args.end_date.isoformat(),
    }


@dataclass(frozen=True)
class Audit:
    """The blocking checks' verdict on a job's staged outputs: which days may be published.

    A dated output holds back the days its failed checks name (``failing_days``), so one bad day
    of a range does not hold the others; an undated output (or a failure naming no day) is held
    back whole.
    """

    failed: tuple[tuple[str, checks.CheckResult], ...] = ()  # (asset, result)
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
        return [f"{asset}:{r.name}" for asset, r in self.failed]

    def describe(self, job: str) -> str:
        """What was held back and why, naming each failed check with its counts."""
        what = ", ".join(sorted(d.isoformat() for d in self.held)) or "everything"
        reasons = "; ".join(
            f"{asset}:{r.name} ({', '.join(f'{k}={v}' for k, v in r.metadata.items() if k in _COUNT_KEYS)})"
            for asset, r in self.failed
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


def audit(results: list[tuple[str, checks.CheckResult]], days: list[date] | None) -> Audit:
    """Judge the staged outputs by their blocking checks, given as (asset, result); a warning
    check never holds back."""
    failed = tuple(
        (asset, r) for asset, r in results if not r.passed and r.severity == checks.SEVERITY_ERROR
    )
    if not failed:
        return Audit()
    if days is None:
        return Audit(failed, frozenset(), everything=True)
    held: set[date] = set()
    for _, result in failed:
        named = result.metadata.get("failing_days")
        if not named:
            return Audit(failed, frozenset(days), everything=True)
        held.update(date.fromisoformat(str(d)) for d in named)
    return Audit(failed, frozenset(held & set(days)), everything=held >= set(days))


def publish(
    lake: Lake,
    job: Job,
    verdict: Audit,
    days: list[date] | None,
    tables: list[StagedTable],
    outputs: list[StagedOutput],
    always: Sequence[StagedOutput] = (),
) -> None:
    """PostgreSQL first (each table in one transaction), then the lake partitions, leaving the
    held-back days as they were; ``always`` (the rejects) are published whatever the verdict.
    The staging folder and tables are removed in every case."""
    publish_days = verdict.publish_days(days)
    try:
        with job.timings.stage("publish_postgres"):
            for table in tables:
                if verdict.everything:
                    table.discard()
                else:
                    table.publish(publish_days)
        with job.timings.stage("publish_lake"):
            for output in always:
                output.publish(lake)
            if not verdict.everything:
                for output in outputs:
                    output.publish(lake, verdict.held)
    finally:
        for table in tables:
            table.discard()
        discard_staging(lake, job.args.run_id)


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


def _accepted_metadata(results: list[checks.CheckResult]) -> dict:
    """What an operator accepted in this run (check -> days, by whom, why), on the record."""
    accepted = {r.name: r.metadata["accepted"] for r in results if "accepted" in r.metadata}
    return {"accepted": {"raw_value": accepted, "type": "json"}} if accepted else {}


def _report_checks(job: Job, asset: str, results: list[checks.CheckResult]) -> None:
    """Report check results through Pipes (after the asset's materialization)."""
    failed = [r.name for r in results if not r.passed]
    if failed:
        job.pipes.log.warning(f"{asset}: check(s) failed: {', '.join(failed)}")
    for result in results:
        job.pipes.report_asset_check(
            check_name=result.name,
            passed=result.passed,
            severity=result.severity,
            metadata={k: _metadata_value(v) for k, v in result.metadata.items()},
            asset_key=asset,
        )


def _metadata_value(value):
    if isinstance(value, dict | list):
        return {"raw_value": value, "type": "json"}
    return value


def _url(value: str) -> dict:
    return {"raw_value": value, "type": "url"}


def _quarantine_all(lake: Lake, errors: list[RawFileError], run_id: str, log) -> None:
    for error in errors:
        moved = quarantine(lake, error.key, error.problem, moved_by=run_id)
        log.error(f"{error.key}: {error.problem} (moved to {moved})")


def read_files(
    job: Job,
    lake: Lake,
    dataset: Dataset,
    keys_by_day: dict[str | None, list[str]],
    strays: list[RawFileError] = (),
) -> tuple[list[RawFile], Frame]:
    """Check every file's header, then read all rows in one scan (which also checks every row's
    field count and encoding). Files that cannot be read as the contract says, and ``strays``
    (entries that are not regular files, never read), are quarantined with their reason, and
    the job fails naming each, before anything is written."""
    files: list[RawFile] = []
    errors: list[RawFileError] = list(strays)
    for day, keys in keys_by_day.items():
        for key in keys:
            try:
                files.append(read_header(lake, key, dataset, day))
            except RawFileError as exc:
                errors.append(exc)
    frame, scans = job.engine.read_raw(lake, dataset, files) if files else (None, {})
    for raw_file in files:
        problem = file_problem(raw_file, scans.get(raw_file.key))
        if problem:
            errors.append(RawFileError(raw_file.key, problem))
    if errors:
        _quarantine_all(lake, errors, job.args.run_id, job.pipes.log)
        raise RawFilesError(errors)
    return files, frame


@dataclass
class Outcome:
    """What the row rules decided, counted per rule and per day."""

    rejects_by_rule: dict[str, int] = field(default_factory=dict)
    read_by_day: dict[str | None, int] = field(default_factory=dict)
    rejected_by_day: dict[str | None, int] = field(default_factory=dict)
    duplicates_dropped: int = 0

    @property
    def rejected(self) -> int:
        return sum(self.rejects_by_rule.values())


def count_outcome(engine: Engine, dataset: Dataset, validated: Frame, days: list[date]) -> Outcome:
    """One pass for the counts: rows per broken rule (per day), identical duplicates dropped."""
    by_rule: dict[str, int] = defaultdict(int)
    read_by_day: dict[str | None, int] = {d.isoformat(): 0 for d in days}
    rejected_by_day: dict[str | None, int] = defaultdict(int)
    dropped = 0
    for r in engine.rows(logic.outcome_counts(dataset, validated.name)):
        day = r["_partition_date"] if dataset.daily else None
        read_by_day[day] = read_by_day.get(day, 0) + r["count"]
        if r["_reject_rule"]:
            by_rule[r["_reject_rule"]] += r["count"]
            rejected_by_day[day] += r["count"]
        if r["_duplicate_dropped"]:
            dropped += r["count"]
    return Outcome(dict(by_rule), read_by_day, dict(rejected_by_day), dropped)


def process_dataset(job: Job, dataset: Dataset) -> None:
    """process-locations / process-climate-data / process-health-data / process-hospital-data."""
    args, engine, timings = job.args, job.engine, job.timings
    lake = open_lake(args.lake_root)
    days = args.days if dataset.daily else None
    if dataset.daily and not days:
        raise ValueError(
            f"{dataset.asset} is partitioned by day: --start-date and --end-date are required"
        )
    log = job.pipes.log
    quality = checks.QualityConfig.from_json(args.quality)

    with timings.stage("read"):
        strays = landing_strays(lake, dataset, days)
        try:
            keys_by_day = list_raw_files(lake, dataset, days)
        except MissingPartitionError:
            if not strays:
                raise
            keys_by_day = {}  # a day of nothing but links: they are what the job reports
        files, raw = read_files(job, lake, dataset, keys_by_day, strays)
        known = None
        if dataset.references_locations:
            known = read_processed(
                engine, lake, f"{PROCESSED_PREFIX}/{LOCATIONS.asset}", LOCATIONS.output_types, None
            )
    log.info(f"{dataset.asset}: {len(files)} raw file(s) for {len(keys_by_day)} partition(s)")

    with timings.stage("validate"):
        validated = validate(engine, raw, dataset, known)
        outcome = count_outcome(engine, dataset, validated, days or [])
        rejects = rejected_rows(engine, validated, dataset)
        valid = valid_rows(engine, validated, dataset)

    live = f"{PROCESSED_PREFIX}/{dataset.asset}"
    rejects_live = f"{REJECTS_PREFIX}/{dataset.name}"

    def measure_checks() -> tuple[checks.Measures, list[checks.CheckResult]]:
        with timings.part("checks"):
            absent = {
                f.key: [
                    c.name for c in dataset.columns if not c.required and c.name not in f.header
                ]
                for f in files
            }
            measures = checks.measure(
                engine,
                valid,
                dataset.key,
                checks.dataset_rules(dataset),
                known,
                "date" if dataset.daily else None,
                [d.isoformat() for d in days or []],
            )
            return measures, checks.evaluate(
                measures,
                checks.check_names(dataset),
                history=quality.row_history.get(dataset.asset, []),
                reject=checks.reject_rate_check(
                    outcome.read_by_day,
                    outcome.rejected_by_day,
                    quality.max_reject_rate,
                    lambda: checks.sample_rejects(engine, rejects),
                ),
                schema=checks.schema_check(
                    {f.key: f.drift for f in files if f.drift},
                    {k: v for k, v in absent.items() if v},
                ),
            )

    def stage_processed() -> tuple[StagedOutput, StagedTable]:
        """The processed Parquet, then exactly what was staged COPYed into PostgreSQL's staging."""
        with timings.part("write_lake"):
            lineage = engine.sql(
                logic.with_lineage(
                    valid.name,
                    dataset.column_names,
                    job.processed_at.isoformat(),
                    args.run_id,
                    source=None,
                )
            )
            output = stage(engine, lake, lineage, args.run_id, live, "parquet", days)
        with timings.part("load_postgres"):
            staged = read_staged(engine, lake, output, dataset.output_types)
            table = stage_load(
                engine,
                staged,
                resolve_dsn(args.warehouse),
                dataset.asset,
                dataset.output_types,
                dataset.key,
                args.run_id,
            )
        return output, table

    def stage_rejects() -> StagedOutput:
        with timings.part("write_lake"):
            if not dataset.daily:
                return stage(engine, lake, rejects, args.run_id, rejects_live, "csv", None)
            if not outcome.rejected:  # each day is published as an empty folder: no query
                return stage_nothing(lake, args.run_id, rejects_live, days, layout="date")
            laid_out = engine.sql(logic.rejects_by_date(dataset, rejects.name))
            return stage(
                engine, lake, laid_out, args.run_id, rejects_live, "csv", days, layout="date"
            )

    # Independent parts, side by side, all reading the kept validated rows: the processed
    # Parquet followed by its PostgreSQL load, the rejects, and the checks' aggregates.
    with timings.stage("outputs"):
        processed, rejects_output, measured = run_concurrently(
            [stage_processed, stage_rejects, measure_checks], engine.concurrent_parts
        )
    (processed_output, table), (measures, check_results) = processed, measured
    check_results = quality.accept(dataset.asset, check_results)  # contract section 5
    verdict = audit([(dataset.asset, r) for r in check_results], days)
    if not verdict.passed:
        log.error(verdict.describe(dataset.asset))
    # The rejects say why rows (or a day) were refused: published whatever the verdict.
    publish(lake, job, verdict, days, [table], [processed_output], always=[rejects_output])

    drift = {f.key: f.drift for f in files if f.drift}
    if drift:
        log.warning(
            f"{dataset.asset}: schema drift, columns not in the contract were ignored: {drift}"
        )
    if outcome.rejected:
        log.warning(
            f"{dataset.asset}: {outcome.rejected} row(s) rejected: {outcome.rejects_by_rule}"
        )
    job.pipes.report_asset_materialization(
        metadata={
            **_range_metadata(job),
            "engine": engine.name,
            "rows": table.rows,
            "rows_per_day": checks.rows_per_day(measures),
            "rows_rejected": outcome.rejected,
            **_held_metadata(verdict),
            **_accepted_metadata(check_results),
            "rejects_by_rule": {"raw_value": outcome.rejects_by_rule, "type": "json"},
            "duplicates_dropped": outcome.duplicates_dropped,
            "source_files": len(files),
            "schema_drift": {"raw_value": drift, "type": "json"},
            "lake_path": _url(lake.spark_path(live)),
            "rejects_path": _url(lake.spark_path(rejects_live)),
            "postgres_table": f"{WAREHOUSE_SCHEMA}.{dataset.asset}",
            **timings.metadata(),
        }
    )
    _report_checks(job, dataset.asset, check_results)


@dataclass
class DerivedOutputs:
    """What one derived asset's parts produced, by name."""

    measures: checks.Measures | None = None
    check_results: list[checks.CheckResult] = field(default_factory=list)
    staged: list[StagedOutput] = field(default_factory=list)
    table: StagedTable | None = None


def calculate_derived_metrics(job: Job) -> None:
    """calculate-derived-metrics: health_risks, hospital_resources and resilience_scores."""
    args, engine, timings = job.args, job.engine, job.timings
    lake = open_lake(args.lake_root)
    days = args.days
    quality = checks.QualityConfig.from_json(args.quality)
    if not days:
        raise ValueError(
            "calculate-derived-metrics is partitioned by day: --start-date and --end-date are required"
        )

    with timings.stage("read"):
        inputs = {
            d.asset: read_processed(
                engine, lake, f"{PROCESSED_PREFIX}/{d.asset}", d.output_types, days
            )
            for d in (CLIMATE, HEALTH, HOSPITAL)
        }
        locations = read_processed(
            engine, lake, f"{PROCESSED_PREFIX}/{LOCATIONS.asset}", LOCATIONS.output_types, None
        )
        locations = engine.sql(f"SELECT * FROM {locations.name}", cache=True)
        dates = engine.frame([(d,) for d in days], "date date")

    with timings.stage("transform"):
        derived = metrics.derive(
            engine,
            inputs[CLIMATE.asset],
            inputs[HEALTH.asset],
            inputs[HOSPITAL.asset],
            locations,
            dates,
        )
        specs: dict[str, Derived] = {spec.asset: spec for spec in DERIVED}
        stamped = {
            name: engine.sql(
                logic.with_lineage(
                    frame.name,
                    specs[name].types,
                    job.processed_at.isoformat(),
                    args.run_id,
                    source=logic.DERIVED_SOURCE,
                ),
                cache=True,
            )
            for name, frame in derived.items()
        }
    results = {name: DerivedOutputs() for name in stamped}

    def measure_checks(name: str) -> Callable[[], None]:
        def part() -> None:
            with timings.part("checks"):
                measures = checks.measure(
                    engine,
                    stamped[name],
                    specs[name].key,
                    checks.derived_rules(specs[name]),
                    locations,
                    "date",
                    [d.isoformat() for d in days],
                )
                results[name].measures = measures
                results[name].check_results = quality.accept(
                    name,
                    checks.evaluate(
                        measures,
                        checks.check_names(specs[name]),
                        history=quality.row_history.get(name, []),
                    ),
                )

        return part

    def stage_curated(name: str) -> Callable[[], None]:
        def part() -> None:
            with timings.part("write_lake"):
                live = f"{CURATED_PREFIX}/{name}"
                output = stage(engine, lake, stamped[name], args.run_id, live, "parquet", days)
                results[name].staged.append(output)

        return part

    def stage_export(name: str, fmt: str) -> Callable[[], None]:
        def part() -> None:
            with timings.part("write_exports"):
                frame = stamped[name]
                if "case_total" in specs[name].types:
                    frame = metrics.suppress_small_counts(engine, frame)
                live = f"{EXPORTS_PREFIX}/{fmt}/{name}"
                results[name].staged.append(
                    stage(engine, lake, frame, args.run_id, live, fmt, days)
                )

        return part

    dsn = resolve_dsn(args.warehouse)  # once, not from each thread

    def load(name: str) -> Callable[[], None]:
        def part() -> None:
            with timings.part("load_postgres"):
                spec = specs[name]
                results[name].table = stage_load(
                    engine, stamped[name], dsn, name, spec.output_types, spec.key, args.run_id
                )

        return part

    # Every output of every derived asset is independent of the others: run them side by side.
    # The checks go first, so each kept frame is computed once, by its first reader.
    names = list(stamped)
    parts = [
        *(measure_checks(n) for n in names),
        *(stage_curated(n) for n in names),
        *(stage_export(n, fmt) for n in names for fmt in EXPORT_FORMATS),
        *(load(n) for n in names),
    ]
    with timings.stage("outputs"):
        try:
            run_concurrently(parts, engine.concurrent_parts)
        except BaseException:
            for outputs in results.values():
                if outputs.table is not None:
                    outputs.table.discard()
            raise
    # The three derived assets are one job from the same inputs: a day held back by any of
    # their blocking checks is held back for all three, so they stay consistent.
    verdict = audit([(n, r) for n in names for r in results[n].check_results], days)
    if not verdict.passed:
        job.pipes.log.error(verdict.describe("calculate-derived-metrics"))
    publish(
        lake,
        job,
        verdict,
        days,
        [results[n].table for n in names],
        [output for n in names for output in results[n].staged],
    )

    for name in names:
        job.pipes.report_asset_materialization(
            asset_key=name,
            metadata={
                **_range_metadata(job),
                "engine": engine.name,
                "rows": results[name].table.rows,
                **_held_metadata(verdict),
                **_accepted_metadata(results[name].check_results),
                "rows_per_day": checks.rows_per_day(results[name].measures),
                "lake_path": _url(lake.spark_path(f"{CURATED_PREFIX}/{name}")),
                "csv_export": _url(lake.spark_path(f"{EXPORTS_PREFIX}/csv/{name}")),
                "json_export": _url(lake.spark_path(f"{EXPORTS_PREFIX}/json/{name}")),
                "postgres_table": f"{WAREHOUSE_SCHEMA}.{name}",
                **timings.metadata(),
            },
        )
        _report_checks(job, name, results[name].check_results)
