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
LINEAGE_COLUMNS = tuple(LINEAGE_TYPES)
HIVE_PARTITION_COLUMNS = ("year", "month", "day")


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


LOCATIONS = Dataset(
    name="locations",
    asset="locations",
    key=("location_id",),
    daily=False,
    columns=(
        Column("location_id", "string", non_null=True),
        Column("name", "string", non_null=True),
        Column("state", "string"),
        Column("latitude", "double", non_null=True, min=-90, max=90),
        Column("longitude", "double", non_null=True, min=-180, max=180),
        Column("population", "long", non_null=True, min=0, min_exclusive=True),
        Column("elevation_m", "double", required=False),
    ),
)

CLIMATE = Dataset(
    name="climate",
    asset="climate_data",
    key=("location_id", "date"),
    daily=True,
    references_locations=True,
    columns=(
        Column("location_id", "string", non_null=True),
        Column("date", "date", non_null=True),
        Column("temp_max_c", "double", non_null=True, min=-90, max=60),
        Column("temp_min_c", "double", non_null=True, min=-90, max=60, max_column="temp_max_c"),
        Column("precipitation_mm", "double", min=0),
        Column("humidity_pct", "double", required=False, min=0, max=100),
        Column("wind_speed_ms", "double", required=False, min=0),
        Column("aqi", "int", required=False, min=0, max=500),
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
        Column("location_id", "string", non_null=True),
        Column("date", "date", non_null=True),
        *(Column(name, "long", min=0) for name in HEALTH_COUNT_COLUMNS),
        Column("ed_visits", "long", required=False, min=0),
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
        Column("hospital_id", "string", non_null=True),
        Column("location_id", "string", non_null=True),
        Column("hospital_name", "string"),
        Column("date", "date", non_null=True),
        Column("total_beds", "long", non_null=True, min=0),
        Column("beds_occupied", "long", non_null=True, min=0, max_column="total_beds"),
        Column("icu_beds", "long", min=0, max_column="total_beds"),
        Column("icu_beds_occupied", "long", min=0, max_column="icu_beds"),
        Column("has_backup_power", "bool"),
        Column("in_flood_zone", "bool"),
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


def date_partition(day: date) -> str:
    """The folder of a day in the landing zone and the rejects (contract sections 1 and 3)."""
    return f"date={day.isoformat()}"


# PostgreSQL schema holding one table per asset.
WAREHOUSE_SCHEMA = "climate_health"

# Privacy (contract section 4): counts 1..10 are suppressed in shared outputs.
SUPPRESS_MIN = 1
SUPPRESS_MAX = 10
