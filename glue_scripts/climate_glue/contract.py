"""The data contract (shared/spec/DATA_CONTRACT.md) as data.

Everything the jobs need to know about a dataset lives here: raw columns with their type,
presence and rule, keys, the processed and derived column lists, and where each output goes.
Transforms read these specs; they never restate a column name list of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# Types as the contract names them; each maps to a Spark SQL type and a PostgreSQL type.
SPARK_TYPES = {
    "string": "string",
    "double": "double",
    "long": "bigint",
    "int": "int",
    "date": "date",
    "bool": "boolean",
    "timestamp": "timestamp",
}
# Athena's Hive DDL (Glue Data Catalog columns) names these types as Spark SQL does.
HIVE_TYPES = SPARK_TYPES
POSTGRES_TYPES = {
    "string": "text",
    "double": "double precision",
    "long": "bigint",
    "int": "integer",
    "date": "date",
    "bool": "boolean",
    "timestamp": "timestamptz",
}

LINEAGE_TYPES = {"_source_file": "string", "_processed_at": "timestamp", "_run_id": "string"}
LINEAGE_DESCRIPTIONS = {
    "_source_file": "The raw key the row came from, exactly as it is named in the lake;"
    " for a derived row the run's input partition (date=YYYY-MM-DD).",
    "_processed_at": "When the row was processed (UTC).",
    "_run_id": "The Dagster run that wrote the row.",
}
LINEAGE_COLUMNS = tuple(LINEAGE_TYPES)
HIVE_PARTITION_COLUMNS = ("year", "month", "day")
HIVE_PARTITION_DESCRIPTIONS = {
    "year": "Partition folder year=YYYY: the year of date.",
    "month": "Partition folder month=MM: the month of date.",
    "day": "Partition folder day=DD: the day of the month of date.",
}


# Parsing of booleans (contract: true/false, 1/0, yes/no, y/n in any case).
TRUE_WORDS = ("true", "1", "yes", "y")
FALSE_WORDS = ("false", "0", "no", "n")


@dataclass(frozen=True)
class Column:
    """One raw column: its contract type, whether the header must have it, and its rule."""

    name: str
    type: str
    required: bool = True  # must be present in the header ("req")
    non_null: bool = False  # a null value rejects the row
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False  # "> 0" rather than ">= 0"
    max_column: str | None = None  # value must be <= this other column
    description: str = ""  # what the column holds (shown in the UI with its rule)


@dataclass(frozen=True)
class Dataset:
    """A raw dataset and the processed asset built from it."""

    name: str  # raw dataset name: raw/<name>/...
    asset: str  # processed asset name: processed/<asset>/...
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    daily: bool
    references_locations: bool = False
    # Privacy (contract section 4): count column -> the columns computed from it; a count of
    # 1..10 is suppressed wherever the processed asset is shared (``climate-assets export``).
    # Not hashed: a dataset stays usable as a dict key.
    suppress: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def output_types(self) -> dict[str, str]:
        """Processed columns and their contract types, lineage columns last."""
        return {**{c.name: c.type for c in self.columns}, **LINEAGE_TYPES}


LOCATION_ID = "Location id; must exist in locations."
DAY = "Day of the row, equal to its partition date."

LOCATIONS = Dataset(
    name="locations",
    asset="locations",
    key=("location_id",),
    daily=False,
    columns=(
        Column(
            "location_id",
            "string",
            non_null=True,
            description='Location id, kept as text ("06037" stays "06037").',
        ),
        Column("name", "string", non_null=True, description="Name of the location."),
        Column("state", "string", description="State of the location."),
        Column(
            "latitude", "double", non_null=True, min=-90, max=90, description="Latitude, degrees."
        ),
        Column(
            "longitude",
            "double",
            non_null=True,
            min=-180,
            max=180,
            description="Longitude, degrees.",
        ),
        Column(
            "population",
            "long",
            non_null=True,
            min=0,
            min_exclusive=True,
            description="Residents: the denominator of the per-capita rates.",
        ),
        Column("elevation_m", "double", required=False, description="Elevation, metres."),
    ),
)

CLIMATE = Dataset(
    name="climate",
    asset="climate_data",
    key=("location_id", "date"),
    daily=True,
    references_locations=True,
    columns=(
        Column("location_id", "string", non_null=True, description=LOCATION_ID),
        Column("date", "date", non_null=True, description=DAY),
        Column(
            "temp_max_c",
            "double",
            non_null=True,
            min=-90,
            max=60,
            description="Highest temperature of the day, degrees Celsius.",
        ),
        Column(
            "temp_min_c",
            "double",
            non_null=True,
            min=-90,
            max=60,
            max_column="temp_max_c",
            description="Lowest temperature of the day, degrees Celsius.",
        ),
        Column("precipitation_mm", "double", min=0, description="Precipitation of the day, mm."),
        Column(
            "humidity_pct",
            "double",
            required=False,
            min=0,
            max=100,
            description="Relative humidity, percent.",
        ),
        Column("wind_speed_ms", "double", required=False, min=0, description="Wind speed, m/s."),
        Column(
            "aqi", "int", required=False, min=0, max=500, description="Air quality index (AQI)."
        ),
    ),
)

HEALTH_COUNT_COLUMNS = (
    "heat_illness_cases",
    "respiratory_cases",
    "cardiovascular_cases",
    "waterborne_cases",
    "vector_borne_cases",
)

HEALTH = Dataset(
    name="health",
    asset="health_data",
    key=("location_id", "date"),
    daily=True,
    references_locations=True,
    columns=(
        Column("location_id", "string", non_null=True, description=LOCATION_ID),
        Column("date", "date", non_null=True, description=DAY),
        *(
            Column(
                name,
                "long",
                min=0,
                description=f"Cases of {name.removesuffix('_cases').replace('_', ' ')} that day.",
            )
            for name in HEALTH_COUNT_COLUMNS
        ),
        Column(
            "ed_visits",
            "long",
            required=False,
            min=0,
            description="Emergency department visits that day.",
        ),
    ),
    suppress={name: () for name in HEALTH_COUNT_COLUMNS},
)

HOSPITAL = Dataset(
    name="hospital",
    asset="hospital_data",
    key=("hospital_id", "date"),
    daily=True,
    references_locations=True,
    columns=(
        Column(
            "hospital_id",
            "string",
            non_null=True,
            description='Hospital id, kept as text ("010001").',
        ),
        Column("location_id", "string", non_null=True, description=LOCATION_ID),
        Column("hospital_name", "string", description="Name of the hospital."),
        Column("date", "date", non_null=True, description=DAY),
        Column("total_beds", "long", non_null=True, min=0, description="Beds of the hospital."),
        Column(
            "beds_occupied",
            "long",
            non_null=True,
            min=0,
            max_column="total_beds",
            description="Beds occupied in the snapshot.",
        ),
        Column("icu_beds", "long", min=0, max_column="total_beds", description="ICU beds."),
        Column(
            "icu_beds_occupied",
            "long",
            min=0,
            max_column="icu_beds",
            description="ICU beds occupied in the snapshot.",
        ),
        Column("has_backup_power", "bool", description="Whether the hospital has backup power."),
        Column("in_flood_zone", "bool", description="Whether the hospital is in a flood zone."),
    ),
)

RAW_DATASETS: dict[str, Dataset] = {d.name: d for d in (LOCATIONS, CLIMATE, HEALTH, HOSPITAL)}
DAILY_DATASETS: tuple[Dataset, ...] = tuple(d for d in RAW_DATASETS.values() if d.daily)


@dataclass(frozen=True)
class Derived:
    """A derived (curated) asset: its columns in order with contract types, its key, and its
    privacy rule (``suppress``)."""

    asset: str
    types: dict[str, str] = field(default_factory=dict)
    key: tuple[str, ...] = ("location_id", "date")
    descriptions: dict[str, str] = field(
        default_factory=dict
    )  # per column, in the contract's words
    # Privacy (contract section 4): count column -> the columns computed from it. In shared
    # outputs (the CSV/JSON exports, the shared Athena tables, ``climate-assets export``) a
    # count of 1..10 and those columns are null and the row is flagged ``suppressed``; the
    # lake Parquet and PostgreSQL keep the true values. Empty: nothing to suppress.
    suppress: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def output_types(self) -> dict[str, str]:
        return {**self.types, **LINEAGE_TYPES}


HEALTH_RISKS = Derived(
    asset="health_risks",
    types={
        "location_id": "string",
        "date": "date",
        "heat_stress": "double",
        "air_quality_risk": "double",
        "precipitation_risk": "double",
        "climate_hazard": "double",
        "case_total": "long",
        "cases_per_100k": "double",
        "health_risk_index": "double",
        "risk_level": "string",
        "inputs_complete": "bool",
    },
    descriptions={
        "location_id": "Location id.",
        "date": "Day.",
        "heat_stress": "`clip((temp_max_c - 27) / 18, 0, 1)`",
        "air_quality_risk": "`clip(aqi / 300, 0, 1)`; a null aqi counts as 0.",
        "precipitation_risk": "`clip(precipitation_mm / 100, 0, 1)`; a null counts as 0.",
        "climate_hazard": "`0.5*heat_stress + 0.3*air_quality_risk + 0.2*precipitation_risk`",
        "case_total": "`heat_illness_cases + respiratory_cases + cardiovascular_cases"
        " + waterborne_cases + vector_borne_cases` (a null counts as 0).",
        "cases_per_100k": "`case_total / population * 100000`",
        "health_risk_index": "`round(100 * (0.6*climate_hazard + 0.4*health_burden), 2)` where"
        " `health_burden = clip(cases_per_100k / 50, 0, 1)`.",
        "risk_level": "By health_risk_index: low (< 25), moderate (< 50), high (< 75),"
        " severe (>= 75).",
        "inputs_complete": "False when aqi or precipitation_mm was null.",
    },
    suppress={"case_total": ("cases_per_100k",)},
)

HOSPITAL_RESOURCES = Derived(
    asset="hospital_resources",
    types={
        "location_id": "string",
        "date": "date",
        "hospital_count": "long",
        "total_beds": "long",
        "beds_occupied": "long",
        "icu_beds": "long",
        "icu_beds_occupied": "long",
        "beds_available": "long",
        "occupancy_rate": "double",
        "beds_per_1k": "double",
        "icu_per_100k": "double",
        "backup_power_share": "double",
        "flood_exposed_share": "double",
        "capacity_score": "double",
    },
    descriptions={
        "location_id": "Location id (every location, hospitals or not).",
        "date": "Day (every day of the run's partitions).",
        "hospital_count": "Hospitals of the location that day (0 when none).",
        "total_beds": "Sum of the hospitals' beds.",
        "beds_occupied": "Sum of the hospitals' occupied beds.",
        "icu_beds": "Sum of the hospitals' ICU beds.",
        "icu_beds_occupied": "Sum of the hospitals' occupied ICU beds.",
        "beds_available": "`total_beds - beds_occupied`",
        "occupancy_rate": "`beds_occupied / total_beds` (null when total_beds = 0).",
        "beds_per_1k": "`total_beds / population * 1000`",
        "icu_per_100k": "`icu_beds / population * 100000`",
        "backup_power_share": "Share of total_beds in hospitals with backup power"
        " (0 when total_beds = 0).",
        "flood_exposed_share": "Share of total_beds in hospitals in a flood zone"
        " (0 when total_beds = 0).",
        "capacity_score": "`round(100 * (0.4*clip(beds_per_1k/3, 0, 1)"
        " + 0.3*(1 - coalesce(occupancy_rate, 1)) + 0.2*clip(icu_per_100k/30, 0, 1)"
        " + 0.1*backup_power_share), 2)`",
    },
)

RESILIENCE_SCORES = Derived(
    asset="resilience_scores",
    types={
        "location_id": "string",
        "date": "date",
        "health_risk_index": "double",
        "risk_level": "string",
        "capacity_score": "double",
        "flood_exposed_share": "double",
        "resilience_score": "double",
        "resilience_category": "string",
    },
    descriptions={
        "location_id": "Location id.",
        "date": "Day.",
        "health_risk_index": HEALTH_RISKS.descriptions["health_risk_index"],
        "risk_level": HEALTH_RISKS.descriptions["risk_level"],
        "capacity_score": HOSPITAL_RESOURCES.descriptions["capacity_score"],
        "flood_exposed_share": HOSPITAL_RESOURCES.descriptions["flood_exposed_share"],
        "resilience_score": "`round(clip(0.45*capacity_score + 0.45*(100 - health_risk_index)"
        " + 10*(1 - flood_exposed_share), 0, 100), 2)`",
        "resilience_category": "By resilience_score: critical (< 40), vulnerable (< 60),"
        " resilient (< 80), highly_resilient (>= 80).",
    },
)

DERIVED: tuple[Derived, ...] = (HEALTH_RISKS, HOSPITAL_RESOURCES, RESILIENCE_SCORES)
# Every processed and derived asset by its name.
ASSETS: dict[str, Dataset | Derived] = {
    spec.asset: spec for spec in (*RAW_DATASETS.values(), *DERIVED)
}

# Where outputs go (contract section 3), relative to the lake root.
RAW_PREFIX = "raw"
PROCESSED_PREFIX = "processed"
CURATED_PREFIX = "curated"
EXPORTS_PREFIX = "exports"
REJECTS_PREFIX = "rejects"
QUARANTINE_PREFIX = "quarantine"
STAGING_PREFIX = "_staging"


def hive_partition(day: date) -> str:
    """The folder of a day in a dated lake output or export (contract section 3)."""
    return f"year={day:%Y}/month={day:%m}/day={day:%d}"


def date_partition(day: date | str) -> str:
    """The folder of a day (a date, or its ISO text as a partition key has it) in the landing
    zone and the rejects (contract sections 1 and 3)."""
    return f"date={day}"


# PostgreSQL schema holding one table per asset.
WAREHOUSE_SCHEMA = "climate_health"

# Privacy (contract section 4): counts 1..10 are suppressed in shared outputs.
SUPPRESS_MIN = 1
SUPPRESS_MAX = 10
SUPPRESSED_DESCRIPTION = (
    f"True when case_total was {SUPPRESS_MIN} to {SUPPRESS_MAX}: then case_total and"
    " cases_per_100k are null (privacy, contract section 4)."
)
