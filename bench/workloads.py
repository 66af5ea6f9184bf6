"""The workloads the suite runs, at full size and at ``--quick`` size (for the test)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

GRAPH = "graph"  # the whole asset graph through Dagster on the embedded default, in one run
SENSOR = "sensor"  # one tick of the landing sensor over the landing zone (runs no job)
STATUS = "status"  # `climate-assets status --json` on an instance with many runs
UI_BACKFILL = "ui-backfill"  # a backfill launched as the UI does, run by `climate-assets dev`
DROP = "drop"  # a day's files dropped into a running `climate-assets dev` (webserver + daemon)

# The engines a graph workload runs on: the child process gets CLIMATE_ENGINE (see
# climate_assets/settings.py). DuckDB is the embedded default; Spark is kept for Glue parity.
ENV_ENGINE = "CLIMATE_ENGINE"
ENGINE_NAMES = ["duckdb", "spark"]


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    locations: int
    days: int
    start: date
    description: str
    seed: int = 7
    floor: bool = False  # also run the DuckDB floor on the same landing zone
    runs: int = 0  # status: runs added to the instance (after one real run of the graph)
    # A graph workload's own engines (else the runner's --engine), asset selection (else the
    # whole graph) and environment of its child process (settings, e.g. the driver's heap).
    engines: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    @property
    def end(self) -> date:
        return date.fromordinal(self.start.toordinal() + self.days - 1)

    @property
    def data_name(self) -> str:
        """The cached landing zone's folder: the same arguments give the same files."""
        return f"{self.locations}x{self.days}-{self.start.isoformat()}-s{self.seed}"

    def to_json(self) -> dict:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data


START = date(2024, 6, 1)
# About 100 MB of daily CSV (climate ~46, health ~33, hospital ~156 bytes a location).
LOCATIONS_100MB = 425_000
SENSOR_KEYS = 10_000
DROP_SENSOR_INTERVAL = 5  # CLIMATE_SENSOR_INTERVAL of the drop workload (issue 21)
STATUS_RUNS = 2_000
# Spark's driver heap well below the data: about 1 GB of hospital CSV (15 days of 425,000
# locations, ~156 bytes a location a day) through process-hospital-data with a 512 MiB heap
# (local mode: the executors share it). Nothing data-sized may reach the driver.
SPARK_HEAP = "512m"
SPARK_HEAP_DAYS = 15

FULL: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "seed",
            GRAPH,
            1_000,
            50,
            START,
            "seed batch: 1,000 locations x 50 days, whole graph in one run",
            floor=True,
        ),
        Workload(
            "100mb",
            GRAPH,
            LOCATIONS_100MB,
            1,
            START,
            f"100 MB/day: one day of {LOCATIONS_100MB:,} locations, whole graph",
            floor=True,
        ),
        Workload(
            "backfill",
            GRAPH,
            1_000,
            365,
            date(2023, 1, 1),
            "backfill: 365 days x 1,000 locations as one single-run range",
            floor=True,
        ),
        Workload(
            "overhead",
            GRAPH,
            3,
            1,
            START,
            "overhead: one tiny partition (3 locations, 1 day) end to end",
        ),
        Workload(
            "spark-heap",
            GRAPH,
            LOCATIONS_100MB,
            SPARK_HEAP_DAYS,
            START,
            f"Spark, data larger than its heap: hospital_data over {SPARK_HEAP_DAYS} days of"
            f" {LOCATIONS_100MB:,} locations (about 1 GB of hospital CSV) with a {SPARK_HEAP}"
            " driver heap",
            engines=("spark",),
            select=("locations", "hospital_data"),
            env=(("CLIMATE_SPARK_DRIVER_MEMORY", SPARK_HEAP),),
        ),
        Workload(
            "sensor",
            SENSOR,
            2,
            (SENSOR_KEYS + 2) // 3,
            date(2015, 1, 1),
            f"sensor tick over {SENSOR_KEYS:,} landing keys (3 files a day, 2 locations)",
        ),
        Workload(
            "status",
            STATUS,
            3,
            1,
            START,
            f"`climate-assets status --json` on an instance with {STATUS_RUNS:,} runs of the Glue"
            " jobs in the last 7 days (one real run, the others copies of it)",
            runs=STATUS_RUNS,
        ),
        Workload(
            "ui-backfill",
            UI_BACKFILL,
            25,
            2,
            START,
            "UI backfill: two days of the whole graph (Materialize all) through the webserver"
            " and daemon of `climate-assets dev`, launch to completed (25 locations, the demo's)",
        ),
        Workload(
            "drop",
            DROP,
            25,
            8,
            START,
            "drop: 25 locations x 7 days processed, `climate-assets dev` running (sensor interval"
            f" {DROP_SENSOR_INTERVAL} s), then the 8th day's three files renamed into the landing"
            " zone; seconds until the day's resilience_scores are in PostgreSQL",
        ),
    )
}

# Same shapes, tiny: checks that the runner works end to end (the test uses these).
QUICK: dict[str, Workload] = {
    "seed": Workload("seed", GRAPH, 12, 3, START, "seed (quick): 12 x 3", floor=True),
    "100mb": Workload("100mb", GRAPH, 300, 1, START, "100mb (quick): 300 x 1", floor=True),
    "backfill": Workload(
        "backfill", GRAPH, 5, 6, date(2023, 1, 1), "backfill (quick): 5 x 6", floor=True
    ),
    "overhead": FULL["overhead"],
    "spark-heap": Workload(
        "spark-heap",
        GRAPH,
        300,
        2,
        START,
        "spark-heap (quick): 300 x 2, hospital_data, 512m heap",
        engines=("spark",),
        select=("locations", "hospital_data"),
        env=(("CLIMATE_SPARK_DRIVER_MEMORY", SPARK_HEAP),),
    ),
    "sensor": Workload("sensor", SENSOR, 2, 34, date(2015, 1, 1), "sensor (quick): 103 keys"),
    "status": Workload("status", STATUS, 3, 1, START, "status (quick): 20 runs", runs=20),
    "ui-backfill": FULL["ui-backfill"],
    "drop": Workload("drop", DROP, 3, 2, START, "drop (quick): 3 locations, day 2 dropped"),
}


def select(names: list[str], quick: bool) -> list[Workload]:
    table = QUICK if quick else FULL
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {', '.join(table)}")
    return [table[n] for n in (names or list(table))]
