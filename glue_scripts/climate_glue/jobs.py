"""The two kinds of job: process a raw dataset, and calculate the derived metrics.

Each supplies its steps to the one write-audit-publish skeleton (``write_audit_publish``):
what it reads, how it transforms it, and its parts (stage an output aside, load PostgreSQL's
staging table, measure the checks). The data logic is the contract's SQL (``logic.py``), run by
the job's engine (``--engine``); this module only names the parts and what each one needs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

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
    Dataset,
    Derived,
    hive_partition,
)
from .engines import Engine, Frame
from .lake import Lake
from .publish import StagedOutput, stage, stage_nothing
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
from .runtime import Job
from .warehouse import stage_load
from .write_audit_publish import JobSteps, Run, Staged, url_metadata, write_audit_publish

EXPORT_FORMATS = ("csv", "json")
DERIVED_JOB = "calculate-derived-metrics"


def process_dataset(job: Job, dataset: Dataset) -> None:
    """process-locations / process-climate-data / process-health-data / process-hospital-data."""
    write_audit_publish(job, ProcessDataset(dataset))


def calculate_derived_metrics(job: Job) -> None:
    """calculate-derived-metrics: health_risks, hospital_resources and resilience_scores."""
    write_audit_publish(job, DerivedMetrics())


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


def read_dataset(run: Run, dataset: Dataset, days: list[date] | None) -> Frame:
    """A processed dataset from the lake: the whole of it, or the given days."""
    return read_processed(
        run.engine, run.lake, processed_prefix(dataset), dataset.output_types, days
    )


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
    return Outcome(
        rejects_by_rule=dict(by_rule),
        read_by_day=read_by_day,
        rejected_by_day=dict(rejected_by_day),
        duplicates_dropped=dropped,
    )


def _quarantine_all(lake: Lake, errors: list[RawFileError], run_id: str, log) -> None:
    for error in errors:
        moved = quarantine(lake, error.key, error.problem, moved_by=run_id)
        log.error(f"{error.key}: {error.problem} (moved to {moved})")


# --------------------------------------------------------------------------- processing a dataset


@dataclass(frozen=True)
class RawRead:
    """A dataset's raw files, checked, and all their rows as strings (``None``: no files)."""

    files: list[RawFile]
    frame: Frame | None


def read_files(
    job: Job,
    lake: Lake,
    dataset: Dataset,
    keys_by_day: dict[str | None, list[str]],
    strays: list[RawFileError] = (),
) -> RawRead:
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
    scanned = job.engine.read_raw(lake, dataset, files) if files else None
    for raw_file in files:
        problem = file_problem(raw_file, scanned.scans.get(raw_file.key))
        if problem:
            errors.append(RawFileError(raw_file.key, problem))
    if errors:
        _quarantine_all(lake, errors, job.args.run_id, job.pipes.log)
        raise RawFilesError(errors)
    return RawRead(files, scanned.frame if scanned else None)


@dataclass(frozen=True)
class RawInputs:
    """What processing a dataset reads: its raw files, and the known locations it checks
    ``location_id`` against (``None`` for a dataset that references none)."""

    raw: RawRead
    known: Frame | None


@dataclass(frozen=True)
class Validated:
    """A dataset's rows after the rules: the kept rows, the rejects and the counts."""

    files: list[RawFile]
    known: Frame | None
    outcome: Outcome
    valid: Frame
    rejects: Frame


@dataclass(frozen=True)
class ProcessDataset(JobSteps[RawInputs, Validated]):
    """raw/<dataset> -> processed/<asset> (Parquet and PostgreSQL) and rejects/<dataset>."""

    dataset: Dataset
    transform_stage = "validate"

    @property
    def name(self) -> str:
        return self.dataset.asset

    @property
    def assets(self) -> tuple[str, ...]:
        return (self.dataset.asset,)

    @property
    def daily(self) -> bool:
        return self.dataset.daily

    def read(self, run: Run) -> RawInputs:
        dataset = self.dataset
        strays = landing_strays(run.lake, dataset, run.days)
        try:
            keys_by_day = list_raw_files(run.lake, dataset, run.days)
        except MissingPartitionError:
            if not strays:
                raise
            keys_by_day = {}  # a day of nothing but links: they are what the job reports
        raw = read_files(run.job, run.lake, dataset, keys_by_day, strays)
        known = read_dataset(run, LOCATIONS, None) if dataset.references_locations else None
        run.job.pipes.log.info(
            f"{dataset.asset}: {len(raw.files)} raw file(s) for {len(keys_by_day)} partition(s)"
        )
        return RawInputs(raw, known)

    def transform(self, run: Run, inputs: RawInputs) -> Validated:
        engine, dataset = run.engine, self.dataset
        validated = validate(engine, inputs.raw.frame, dataset, inputs.known)
        return Validated(
            files=inputs.raw.files,
            known=inputs.known,
            outcome=count_outcome(engine, dataset, validated, run.days or []),
            rejects=rejected_rows(engine, validated, dataset),
            valid=valid_rows(engine, validated, dataset),
        )

    def parts(self, run: Run, data: Validated, dsn: str) -> list[Callable[[], Staged]]:
        # Side by side, all reading the kept validated rows: the processed Parquet followed by
        # its PostgreSQL load, the rejects, and the checks' aggregates.
        return [
            partial(stage_processed, run, self.dataset, data.valid, dsn),
            partial(stage_rejects, run, self.dataset, data),
            partial(measure_dataset, run, self.dataset, data),
        ]

    def metadata(self, run: Run, data: Validated, asset: str) -> dict:
        outcome = data.outcome
        return {
            "rows_rejected": outcome.rejected,
            "rejects_by_rule": {"raw_value": outcome.rejects_by_rule, "type": "json"},
            "duplicates_dropped": outcome.duplicates_dropped,
            "source_files": len(data.files),
            "schema_drift": {"raw_value": _drift(data.files), "type": "json"},
            "lake_path": url_metadata(run.lake.spark_path(processed_prefix(self.dataset))),
            "rejects_path": url_metadata(run.lake.spark_path(rejects_prefix(self.dataset))),
        }

    def notices(self, data: Validated) -> list[str]:
        asset, drift, outcome = self.dataset.asset, _drift(data.files), data.outcome
        notices = []
        if drift:
            notices.append(
                f"{asset}: schema drift, columns not in the contract were ignored: {drift}"
            )
        if outcome.rejected:
            notices.append(
                f"{asset}: {outcome.rejected} row(s) rejected: {outcome.rejects_by_rule}"
            )
        return notices


def processed_prefix(dataset: Dataset) -> str:
    return f"{PROCESSED_PREFIX}/{dataset.asset}"


def rejects_prefix(dataset: Dataset) -> str:
    return f"{REJECTS_PREFIX}/{dataset.name}"


def _drift(files: list[RawFile]) -> dict[str, list[str]]:
    return {f.key: f.drift for f in files if f.drift}


def stage_processed(run: Run, dataset: Dataset, valid: Frame, dsn: str) -> Staged:
    """The processed Parquet, then exactly what was staged COPYed into PostgreSQL's staging."""
    engine = run.engine
    with run.timings.part("write_lake"):
        lineage = engine.sql(
            logic.with_lineage(
                valid.name,
                dataset.column_names,
                run.job.processed_at.isoformat(),
                run.run_id,
                source=None,
            )
        )
        live = processed_prefix(dataset)
        output = stage(engine, run.lake, lineage, run.run_id, live, "parquet", run.days)
    with run.timings.part("load_postgres"):
        staged = read_staged(engine, run.lake, output, dataset.output_types)
        table = stage_load(
            engine,
            staged,
            dsn,
            dataset.asset,
            dataset.output_types,
            dataset.key,
            run.run_id,
            run.days,
        )
    return Staged(dataset.asset, outputs=(output,), table=table)


def stage_rejects(run: Run, dataset: Dataset, data: Validated) -> Staged:
    """The rejected rows, by the day of their landing folder (a dated dataset)."""
    engine, lake, run_id, live = run.engine, run.lake, run.run_id, rejects_prefix(dataset)
    with run.timings.part("write_lake"):
        if not dataset.daily:
            output = stage(engine, lake, data.rejects, run_id, live, "csv", None)
        elif not data.outcome.rejected:  # each day is published as an empty folder: no query
            output = stage_nothing(lake, run_id, live, run.days, layout="date")
        else:
            laid_out = engine.sql(logic.rejects_by_date(dataset, data.rejects.name))
            output = stage(engine, lake, laid_out, run_id, live, "csv", run.days, layout="date")
    return Staged(dataset.asset, always=(output,))


def measure_dataset(run: Run, dataset: Dataset, data: Validated) -> Staged:
    """The checks of the kept rows, with the reject rate and the raw files' schema."""
    with run.timings.part("checks"):
        measures = checks.measure(
            run.engine,
            data.valid,
            dataset.key,
            checks.dataset_rules(dataset),
            data.known,
            "date" if dataset.daily else None,
            [d.isoformat() for d in run.days or []],
        )
        absent = {
            f.key: [c.name for c in dataset.columns if not c.required and c.name not in f.header]
            for f in data.files
        }
        results = checks.evaluate(
            measures,
            checks.check_names(dataset),
            history=run.quality.row_history.get(dataset.asset, []),
            reject=checks.reject_rate_check(
                data.outcome.read_by_day,
                data.outcome.rejected_by_day,
                run.quality.max_reject_rate,
                partial(checks.sample_rejects, run.engine, data.rejects),
            ),
            schema=checks.schema_check(_drift(data.files), {k: v for k, v in absent.items() if v}),
        )
    return Staged(dataset.asset, measures=measures, check_results=tuple(results))


# --------------------------------------------------------------------------- derived metrics


@dataclass(frozen=True)
class DerivedInputs:
    """The processed days the derived metrics are calculated from."""

    climate: Frame
    health: Frame
    hospital: Frame
    locations: Frame  # kept: every derived asset's checks join it
    dates: Frame  # the run's days, one ``date`` column


@dataclass(frozen=True)
class DerivedFrames:
    """Each derived asset's rows with their lineage (kept: all its outputs read it)."""

    by_asset: dict[str, Frame]
    locations: Frame


@dataclass(frozen=True)
class DerivedMetrics(JobSteps[DerivedInputs, DerivedFrames]):
    """processed climate, health and hospital data -> the three derived assets, each as curated
    Parquet, CSV and JSON exports (small counts suppressed) and a PostgreSQL table."""

    @property
    def name(self) -> str:
        return DERIVED_JOB

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(spec.asset for spec in DERIVED)

    @property
    def daily(self) -> bool:
        return True

    def read(self, run: Run) -> DerivedInputs:
        climate = read_dataset(run, CLIMATE, run.days)
        health = read_dataset(run, HEALTH, run.days)
        hospital = read_dataset(run, HOSPITAL, run.days)
        locations = read_dataset(run, LOCATIONS, None)
        return DerivedInputs(
            climate=climate,
            health=health,
            hospital=hospital,
            locations=run.engine.sql(f"SELECT * FROM {locations.name}", cache=True),
            dates=run.engine.frame([(d,) for d in run.days], "date date"),
        )

    def transform(self, run: Run, inputs: DerivedInputs) -> DerivedFrames:
        engine = run.engine
        derived = metrics.derive(
            engine, inputs.climate, inputs.health, inputs.hospital, inputs.locations, inputs.dates
        )
        stamped = {
            spec.asset: engine.sql(
                logic.with_lineage(
                    derived[spec.asset].name,
                    spec.types,
                    run.job.processed_at.isoformat(),
                    run.run_id,
                    source=logic.DERIVED_SOURCE,
                ),
                cache=True,
            )
            for spec in DERIVED
        }
        return DerivedFrames(stamped, inputs.locations)

    def parts(self, run: Run, data: DerivedFrames, dsn: str) -> list[Callable[[], Staged]]:
        # Every output of every derived asset is independent of the others: side by side. The
        # checks go first, so each kept frame is computed once, by its first reader.
        frames = data.by_asset
        return [
            *(partial(measure_derived, run, s, frames[s.asset], data.locations) for s in DERIVED),
            *(partial(stage_curated, run, s, frames[s.asset]) for s in DERIVED),
            *(
                partial(stage_export, run, s, frames[s.asset], fmt)
                for s in DERIVED
                for fmt in EXPORT_FORMATS
            ),
            *(partial(load_derived, run, s, frames[s.asset], dsn) for s in DERIVED),
        ]

    def metadata(self, run: Run, data: DerivedFrames, asset: str) -> dict:
        return {
            "lake_path": url_metadata(run.lake.spark_path(curated_prefix(asset))),
            **{
                f"{fmt}_export": url_metadata(run.lake.spark_path(export_prefix(asset, fmt)))
                for fmt in EXPORT_FORMATS
            },
        }


def curated_prefix(asset: str) -> str:
    return f"{CURATED_PREFIX}/{asset}"


def export_prefix(asset: str, fmt: str) -> str:
    return f"{EXPORTS_PREFIX}/{fmt}/{asset}"


def measure_derived(run: Run, spec: Derived, frame: Frame, locations: Frame) -> Staged:
    with run.timings.part("checks"):
        measures = checks.measure(
            run.engine,
            frame,
            spec.key,
            checks.derived_rules(spec),
            locations,
            "date",
            [d.isoformat() for d in run.days],
        )
        results = checks.evaluate(
            measures,
            checks.check_names(spec),
            history=run.quality.row_history.get(spec.asset, []),
        )
    return Staged(spec.asset, measures=measures, check_results=tuple(results))


def stage_curated(run: Run, spec: Derived, frame: Frame) -> Staged:
    with run.timings.part("write_lake"):
        live = curated_prefix(spec.asset)
        output = stage(run.engine, run.lake, frame, run.run_id, live, "parquet", run.days)
    return Staged(spec.asset, outputs=(output,))


def stage_export(run: Run, spec: Derived, frame: Frame, fmt: str) -> Staged:
    """A shared export: the asset's privacy rule (``Derived.suppress``) applied."""
    with run.timings.part("write_exports"):
        if spec.suppress:
            frame = metrics.suppress_small_counts(run.engine, frame, spec.suppress)
        live = export_prefix(spec.asset, fmt)
        output = stage(run.engine, run.lake, frame, run.run_id, live, fmt, run.days)
    return Staged(spec.asset, outputs=(output,))


def load_derived(run: Run, spec: Derived, frame: Frame, dsn: str) -> Staged:
    with run.timings.part("load_postgres"):
        table = stage_load(
            run.engine, frame, dsn, spec.asset, spec.output_types, spec.key, run.run_id, run.days
        )
    return Staged(spec.asset, table=table)
