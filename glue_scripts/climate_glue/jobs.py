"""The two kinds of job: process a raw dataset, and calculate the derived metrics.

Both follow the same order, so a failure at any step leaves published data as it was:
read -> transform -> stage every output aside -> replace the PostgreSQL rows in one
transaction -> swap each staged lake partition into place -> report through Pipes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import checks, metrics
from .contract import (
    CLIMATE,
    CURATED_PREFIX,
    EXPORTS_PREFIX,
    HEALTH,
    HEALTH_RISKS,
    HOSPITAL,
    HOSPITAL_RESOURCES,
    LOCATIONS,
    PROCESSED_PREFIX,
    REJECTS_PREFIX,
    RESILIENCE_SCORES,
    SPARK_TYPES,
    WAREHOUSE_SCHEMA,
    Dataset,
    Derived,
)
from .lake import Lake, open_lake
from .publish import (
    StagedOutput,
    discard_staging,
    hive_partition,
    stage,
    stage_nothing,
    with_lineage,
)
from .quarantine import quarantine
from .raw import RawFile, RawFileError, RawFilesError, list_raw_files, read_header, read_raw
from .rules import rejected_rows, valid_rows, validate
from .runtime import Job, run_concurrently
from .warehouse import load_replace, resolve_dsn


class UpstreamMissingError(RuntimeError):
    pass


def spark_schema(types: dict[str, str]) -> str:
    """A DDL schema string for the contract types (what Spark 3.5's reader takes)."""
    return ", ".join(f"`{name}` {SPARK_TYPES[kind]}" for name, kind in types.items())


def read_processed(
    spark: SparkSession, lake: Lake, prefix: str, types: dict[str, str], days: list[date] | None
) -> DataFrame:
    """A processed or curated dataset from the lake: the whole of it, or the given days."""
    schema = spark_schema(types)
    if days is None:
        if not lake.exists(prefix):
            raise UpstreamMissingError(f"{prefix} is not in the lake yet: materialize it first")
        return spark.read.schema(schema).parquet(lake.spark_path(prefix))
    missing = [d for d in days if not lake.exists(f"{prefix}/{hive_partition(d)}")]
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:5])
        raise UpstreamMissingError(
            f"{prefix} has no partition for {len(missing)} day(s) ({shown}{'...' if len(missing) > 5 else ''}):"
            " materialize it for those days first"
        )
    paths = [lake.spark_path(f"{prefix}/{hive_partition(d)}") for d in days]
    return (
        spark.read.schema(schema)
        .option("basePath", lake.spark_path(prefix))
        .parquet(*paths)
        .select(*types)
    )


def _range_metadata(job: Job) -> dict:
    args = job.args
    if args.start_date is None:
        return {}
    return {
        "partition_start": args.start_date.isoformat(),
        "partition_end": args.end_date.isoformat(),
    }


def _publish(lake: Lake, job: Job, outputs: list[StagedOutput]) -> None:
    with job.timings.stage("publish_lake"):
        for output in outputs:
            output.publish(lake)
        discard_staging(lake, job.args.run_id)


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


@dataclass
class _RawInput:
    files: list[RawFile]
    frame: DataFrame


def _read_files(
    spark: SparkSession,
    lake: Lake,
    dataset: Dataset,
    keys_by_day: dict[str | None, list[str]],
    run_id: str,
    log,
) -> _RawInput:
    """Check every file's header, then read all rows in one scan (which also checks every row's
    field count and encoding). Files that cannot be read as the contract says are quarantined
    with their reason, and the job fails naming each, before anything is written."""
    files: list[RawFile] = []
    errors: list[RawFileError] = []
    for day, keys in keys_by_day.items():
        for key in keys:
            try:
                files.append(read_header(lake, key, dataset, day))
            except RawFileError as exc:
                errors.append(exc)
    frame = None
    if files:
        try:
            frame = read_raw(spark, lake, dataset, files)
        except RawFilesError as exc:
            errors += exc.errors
    if errors:
        for error in errors:
            moved = quarantine(lake, error.key, error.problem, moved_by=run_id)
            log.error(f"{error.key}: {error.problem} (moved to {moved})")
        raise RawFilesError(errors)
    return _RawInput(files=files, frame=frame)


def process_dataset(job: Job, dataset: Dataset) -> None:
    """process-locations / process-climate-data / process-health-data / process-hospital-data."""
    args, spark, timings = job.args, job.spark, job.timings
    lake = open_lake(args.lake_root)
    days = args.days if dataset.daily else None
    if dataset.daily and not days:
        raise ValueError(
            f"{dataset.asset} is partitioned by day: --start-date and --end-date are required"
        )
    log = job.pipes.log
    quality = checks.QualityConfig.from_json(args.quality)

    with timings.stage("read"):
        keys_by_day = list_raw_files(lake, dataset, days)
        raw_input = _read_files(spark, lake, dataset, keys_by_day, args.run_id, log)
        files, raw = raw_input.files, raw_input.frame
        known = None
        if dataset.references_locations:
            known = read_processed(
                spark, lake, f"{PROCESSED_PREFIX}/{LOCATIONS.asset}", LOCATIONS.output_types, None
            )
    log.info(f"{dataset.asset}: {len(files)} raw file(s) for {len(keys_by_day)} partition(s)")

    with timings.stage("validate"):
        validated = validate(raw, dataset, known).persist(StorageLevel.MEMORY_AND_DISK)
        rejects = rejected_rows(validated, dataset)
        # One pass for the counts: rows per broken rule (per day), identical duplicates dropped.
        by_day = ["_partition_date"] if dataset.daily else []
        outcome = validated.groupBy("_reject_rule", "_duplicate_dropped", *by_day).count().collect()
        rejects_by_rule: dict[str, int] = defaultdict(int)
        read_by_day: dict[str | None, int] = {d.isoformat(): 0 for d in days or []}
        rejected_by_day: dict[str | None, int] = defaultdict(int)
        for r in outcome:
            day = r["_partition_date"] if dataset.daily else None
            read_by_day[day] = read_by_day.get(day, 0) + r["count"]
            if r["_reject_rule"]:
                rejects_by_rule[r["_reject_rule"]] += r["count"]
                rejected_by_day[day] += r["count"]
        rejects_by_rule = dict(rejects_by_rule)
        duplicates_dropped = sum(r["count"] for r in outcome if r["_duplicate_dropped"])
    rejected = sum(rejects_by_rule.values())

    live = f"{PROCESSED_PREFIX}/{dataset.asset}"
    rejects_live = f"{REJECTS_PREFIX}/{dataset.name}"
    valid = valid_rows(validated, dataset)

    def measure_checks() -> tuple[checks.Measures, list[checks.CheckResult]]:
        with timings.part("checks"):
            absent = {
                f.key: [
                    c.name for c in dataset.columns if not c.required and c.name not in f.header
                ]
                for f in files
            }
            measures = checks.measure(
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
                    read_by_day,
                    rejected_by_day,
                    quality.max_reject_rate,
                    lambda: checks.sample_rejects(rejects),
                ),
                schema=checks.schema_check(
                    {f.key: f.drift for f in files if f.drift},
                    {k: v for k, v in absent.items() if v},
                ),
            )

    def stage_and_load() -> tuple[StagedOutput, int]:
        """The processed Parquet, then exactly what was staged loaded into PostgreSQL."""
        with timings.part("write_lake"):
            lineage = with_lineage(valid, job.processed_at, args.run_id)
            output = stage(lake, lineage, args.run_id, live, "parquet", days)
        with timings.part("load_postgres"):
            staged = read_processed(spark, lake, output.staged, dataset.output_types, days)
            loaded = load_replace(
                staged,
                resolve_dsn(args.warehouse),
                dataset.asset,
                dataset.output_types,
                dataset.key,
                args.run_id,
                days,
            )
        return output, loaded

    def stage_rejects() -> StagedOutput:
        with timings.part("write_lake"):
            if not dataset.daily:
                return stage(lake, rejects, args.run_id, rejects_live, "csv", None)
            # A day without rejects is published as an empty folder: no Spark job needed.
            frame = rejects.withColumnRenamed("date", "raw_date").withColumnRenamed(
                "_partition_date", "date"
            )
            if not rejected:
                return stage_nothing(lake, args.run_id, rejects_live, days, layout="date")
            return stage(lake, frame, args.run_id, rejects_live, "csv", days, layout="date")

    # Independent parts, side by side, all reading the cached validated rows: the processed
    # Parquet followed by its PostgreSQL load, the rejects, and the checks' aggregates.
    with timings.stage("outputs"):
        (processed, loaded), rejects_output, (measures, check_results) = run_concurrently(
            [stage_and_load, stage_rejects, measure_checks]
        )
    outputs = [processed, rejects_output]
    _publish(lake, job, outputs)
    validated.unpersist()

    drift = {f.key: f.drift for f in files if f.drift}
    if drift:
        log.warning(
            f"{dataset.asset}: schema drift, columns not in the contract were ignored: {drift}"
        )
    if rejected:
        log.warning(f"{dataset.asset}: {rejected} row(s) rejected: {rejects_by_rule}")
    job.pipes.report_asset_materialization(
        metadata={
            **_range_metadata(job),
            "rows": loaded,
            "rows_per_day": checks.rows_per_day(measures),
            "rows_rejected": rejected,
            "rejects_by_rule": {"raw_value": rejects_by_rule, "type": "json"},
            "duplicates_dropped": duplicates_dropped,
            "source_files": len(files),
            "schema_drift": {"raw_value": drift, "type": "json"},
            "lake_path": {"raw_value": lake.spark_path(live), "type": "url"},
            "rejects_path": {"raw_value": lake.spark_path(rejects_live), "type": "url"},
            "postgres_table": f"{WAREHOUSE_SCHEMA}.{dataset.asset}",
            **timings.metadata(),
        }
    )
    _report_checks(job, dataset.asset, check_results)


def derive(
    climate: DataFrame,
    health: DataFrame,
    hospital: DataFrame,
    locations: DataFrame,
    dates: DataFrame,
) -> dict[str, DataFrame]:
    """The three derived datasets by asset name (pure: frames in, frames out)."""
    risks = metrics.health_risks(climate, health, locations)
    resources = metrics.hospital_resources(hospital, locations, dates)
    return {
        HEALTH_RISKS.asset: risks,
        HOSPITAL_RESOURCES.asset: resources,
        RESILIENCE_SCORES.asset: metrics.resilience_scores(risks, resources),
    }


def calculate_derived_metrics(job: Job) -> None:
    """calculate-derived-metrics: health_risks, hospital_resources and resilience_scores."""
    args, spark, timings = job.args, job.spark, job.timings
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
                spark, lake, f"{PROCESSED_PREFIX}/{d.asset}", d.output_types, days
            )
            for d in (CLIMATE, HEALTH, HOSPITAL)
        }
        locations = read_processed(
            spark, lake, f"{PROCESSED_PREFIX}/{LOCATIONS.asset}", LOCATIONS.output_types, None
        )
        dates = spark.createDataFrame([(d,) for d in days], "date date")

    with timings.stage("transform"):
        derived = derive(
            inputs[CLIMATE.asset],
            inputs[HEALTH.asset],
            inputs[HOSPITAL.asset],
            locations.persist(),
            dates,
        )
        specs: dict[str, Derived] = {
            spec.asset: spec for spec in (HEALTH_RISKS, HOSPITAL_RESOURCES, RESILIENCE_SCORES)
        }
        derived = {
            name: with_lineage(
                frame.withColumn(
                    "_source_file", F.concat(F.lit("date="), F.col("date").cast("string"))
                ),
                job.processed_at,
                args.run_id,
            ).persist(StorageLevel.MEMORY_AND_DISK)
            for name, frame in derived.items()
        }

    def measure_checks(name: str) -> Callable[[], tuple[checks.Measures, list]]:
        def part() -> tuple[checks.Measures, list[checks.CheckResult]]:
            with timings.part("checks"):
                measures = checks.measure(
                    derived[name],
                    specs[name].key,
                    checks.derived_rules(specs[name]),
                    locations,
                    "date",
                    [d.isoformat() for d in days],
                )
                return measures, checks.evaluate(
                    measures,
                    checks.check_names(specs[name]),
                    history=quality.row_history.get(name, []),
                )

        return part

    def stage_curated(name: str) -> Callable[[], StagedOutput]:
        def part() -> StagedOutput:
            with timings.part("write_lake"):
                live = f"{CURATED_PREFIX}/{name}"
                return stage(lake, derived[name], args.run_id, live, "parquet", days)

        return part

    def stage_export(name: str, fmt: str) -> Callable[[], StagedOutput]:
        def part() -> StagedOutput:
            with timings.part("write_exports"):
                frame = derived[name]
                if "case_total" in specs[name].types:
                    frame = metrics.suppress_small_counts(frame)
                live = f"{EXPORTS_PREFIX}/{fmt}/{name}"
                return stage(lake, frame, args.run_id, live, fmt, days)

        return part

    dsn = resolve_dsn(args.warehouse)  # once, not from each thread

    def load(name: str) -> Callable[[], int]:
        def part() -> int:
            with timings.part("load_postgres"):
                spec = specs[name]
                return load_replace(
                    derived[name].select(*spec.output_types),
                    dsn,
                    name,
                    spec.output_types,
                    spec.key,
                    args.run_id,
                    days,
                )

        return part

    # Every output of every derived asset is independent of the others: run them side by side.
    # The checks go first, so each cached frame is computed once, by its first reader.
    names = list(derived)
    parts = [
        *(measure_checks(n) for n in names),
        *(stage_curated(n) for n in names),
        *(stage_export(n, fmt) for n in names for fmt in ("csv", "json")),
        *(load(n) for n in names),
    ]
    with timings.stage("outputs"):
        done = run_concurrently(parts)
    count = len(names)
    measured = {n: done[i][0] for i, n in enumerate(names)}
    check_results = {n: done[i][1] for i, n in enumerate(names)}
    outputs: list[StagedOutput] = done[count : count + 3 * count]
    loaded = dict(zip(names, done[4 * count :], strict=True))
    _publish(lake, job, outputs)

    for name in derived:
        job.pipes.report_asset_materialization(
            asset_key=name,
            metadata={
                **_range_metadata(job),
                "rows": loaded[name],
                "rows_per_day": checks.rows_per_day(measured[name]),
                "lake_path": {
                    "raw_value": lake.spark_path(f"{CURATED_PREFIX}/{name}"),
                    "type": "url",
                },
                "csv_export": {
                    "raw_value": lake.spark_path(f"{EXPORTS_PREFIX}/csv/{name}"),
                    "type": "url",
                },
                "json_export": {
                    "raw_value": lake.spark_path(f"{EXPORTS_PREFIX}/json/{name}"),
                    "type": "url",
                },
                "postgres_table": f"{WAREHOUSE_SCHEMA}.{name}",
                **timings.metadata(),
            },
        )
        _report_checks(job, name, check_results[name])
