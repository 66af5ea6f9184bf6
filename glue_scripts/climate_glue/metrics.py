"""The derived-metric formulas of the data contract (section 2), as pure DataFrame transforms.

Inputs are the processed frames (typed, contract columns). A null input counts as 0 unless the
contract says otherwise. Scores are rounded half away from zero to 2 decimals, and later
formulas use the rounded values.
"""

from __future__ import annotations

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .contract import (
    HEALTH_COUNT_COLUMNS,
    HEALTH_RISKS,
    HOSPITAL_RESOURCES,
    RESILIENCE_SCORES,
    SPARK_TYPES,
    SUPPRESS_MAX,
    SUPPRESS_MIN,
)

KEY = ["location_id", "date"]


def clip(value: SparkColumn, low: float, high: float) -> SparkColumn:
    return F.least(F.greatest(value, F.lit(low)), F.lit(high))


def round_score(value: SparkColumn) -> SparkColumn:
    """Round half away from zero to 2 decimals, on the value's decimal meaning.

    Spark's ``round`` is HALF_UP (away from zero) on the shortest decimal form of a double.
    Scores lie in 0..100, where a double's spacing is about 1.4e-14, and the formulas add a few
    such errors at most: rounding to 12 places first removes that noise (12.344999999999994
    from exact 12.345 becomes 12.345 and rounds to 12.35) while a real difference of 1e-12 or
    more survives (12.344999999589 stays below the half and rounds to 12.34).
    """
    return F.round(F.round(value, 12), 2)


def _zero(name: str) -> SparkColumn:
    return F.coalesce(F.col(name), F.lit(0))


def _bands(value: SparkColumn, bands: list[tuple[float, str]], top: str) -> SparkColumn:
    """Label by the first band whose upper bound (exclusive) the value is below."""
    expr = None
    for bound, label in bands:
        expr = F.when(value < bound, label) if expr is None else expr.when(value < bound, label)
    return expr.otherwise(top)


def health_risks(climate: DataFrame, health: DataFrame, locations: DataFrame) -> DataFrame:
    """climate_data ⋈ health_data ⋈ locations (inner joins on location_id, date)."""
    joined = climate.join(health.drop("_source_file"), KEY).join(
        locations.select("location_id", "population"), "location_id"
    )
    heat_stress = clip((F.col("temp_max_c") - 27) / 18, 0, 1)
    air_quality_risk = clip(_zero("aqi") / 300, 0, 1)
    precipitation_risk = clip(_zero("precipitation_mm") / 100, 0, 1)
    case_total = sum((_zero(c) for c in HEALTH_COUNT_COLUMNS[1:]), _zero(HEALTH_COUNT_COLUMNS[0]))
    frame = joined.select(
        *KEY,
        heat_stress.alias("heat_stress"),
        air_quality_risk.alias("air_quality_risk"),
        precipitation_risk.alias("precipitation_risk"),
        case_total.cast("long").alias("case_total"),
        "population",
        (F.col("aqi").isNotNull() & F.col("precipitation_mm").isNotNull()).alias("inputs_complete"),
    )
    frame = frame.withColumn(
        "climate_hazard",
        0.5 * F.col("heat_stress")
        + 0.3 * F.col("air_quality_risk")
        + 0.2 * F.col("precipitation_risk"),
    ).withColumn("cases_per_100k", F.col("case_total") / F.col("population") * 100000)
    health_burden = clip(F.col("cases_per_100k") / 50, 0, 1)
    index = round_score(100 * (0.6 * F.col("climate_hazard") + 0.4 * health_burden))
    frame = frame.withColumn("health_risk_index", index).withColumn(
        "risk_level",
        _bands(F.col("health_risk_index"), [(25, "low"), (50, "moderate"), (75, "high")], "severe"),
    )
    return frame.select(*HEALTH_RISKS.types)


def hospital_resources(hospital: DataFrame, locations: DataFrame, dates: DataFrame) -> DataFrame:
    """Every location x every date in ``dates`` (a frame with one ``date`` column), aggregating
    hospital_data of that location and date; a location with no hospitals gets zeros."""
    beds = F.col("total_beds")
    per_day = hospital.groupBy(*KEY).agg(
        F.count(F.lit(1)).alias("hospital_count"),
        F.sum(beds).alias("total_beds"),
        F.sum("beds_occupied").alias("beds_occupied"),
        F.sum(_zero("icu_beds")).alias("icu_beds"),
        F.sum(_zero("icu_beds_occupied")).alias("icu_beds_occupied"),
        F.sum(F.when(F.col("has_backup_power"), beds).otherwise(0)).alias("backup_beds"),
        F.sum(F.when(F.col("in_flood_zone"), beds).otherwise(0)).alias("flood_beds"),
    )
    grid = locations.select("location_id", "population").crossJoin(dates.select("date"))
    frame = grid.join(per_day, KEY, "left").fillna(
        0,
        subset=[
            "hospital_count",
            "total_beds",
            "beds_occupied",
            "icu_beds",
            "icu_beds_occupied",
            "backup_beds",
            "flood_beds",
        ],
    )
    total = F.col("total_beds")
    has_beds = total > 0
    frame = (
        frame.withColumn("beds_available", total - F.col("beds_occupied"))
        .withColumn("occupancy_rate", F.when(has_beds, F.col("beds_occupied") / total))
        .withColumn("beds_per_1k", total / F.col("population") * 1000)
        .withColumn("icu_per_100k", F.col("icu_beds") / F.col("population") * 100000)
        .withColumn(
            "backup_power_share", F.when(has_beds, F.col("backup_beds") / total).otherwise(0.0)
        )
        .withColumn(
            "flood_exposed_share", F.when(has_beds, F.col("flood_beds") / total).otherwise(0.0)
        )
    )
    capacity = 100 * (
        0.4 * clip(F.col("beds_per_1k") / 3, 0, 1)
        + 0.3 * (1 - F.coalesce(F.col("occupancy_rate"), F.lit(1.0)))
        + 0.2 * clip(F.col("icu_per_100k") / 30, 0, 1)
        + 0.1 * F.col("backup_power_share")
    )
    frame = frame.withColumn("capacity_score", round_score(capacity))
    return frame.select(
        *[F.col(c).cast(SPARK_TYPES[t]) for c, t in HOSPITAL_RESOURCES.types.items()]
    )


def resilience_scores(health_risks_frame: DataFrame, resources: DataFrame) -> DataFrame:
    """health_risks ⋈ hospital_resources (inner join on location_id, date)."""
    joined = health_risks_frame.select(*KEY, "health_risk_index", "risk_level").join(
        resources.select(*KEY, "capacity_score", "flood_exposed_share"), KEY
    )
    raw = (
        0.45 * F.col("capacity_score")
        + 0.45 * (100 - F.col("health_risk_index"))
        + 10 * (1 - F.col("flood_exposed_share"))
    )
    frame = joined.withColumn("resilience_score", round_score(clip(raw, 0, 100))).withColumn(
        "resilience_category",
        _bands(
            F.col("resilience_score"),
            [(40, "critical"), (60, "vulnerable"), (80, "resilient")],
            "highly_resilient",
        ),
    )
    return frame.select(*RESILIENCE_SCORES.types)


def suppress_small_counts(frame: DataFrame) -> DataFrame:
    """Privacy for shared outputs (contract section 4): a case_total of 1..10 and the rate computed
    from it become null, and the row is flagged ``suppressed``. 0 and >= 11 are shown."""
    small = F.col("case_total").between(SUPPRESS_MIN, SUPPRESS_MAX)
    return (
        frame.withColumn("suppressed", F.coalesce(small, F.lit(False)))
        .withColumn("case_total", F.when(~F.col("suppressed"), F.col("case_total")))
        .withColumn("cases_per_100k", F.when(~F.col("suppressed"), F.col("cases_per_100k")))
    )
