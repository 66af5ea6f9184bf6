"""The workloads the suite runs, at full size and at ``--quick`` size (for the test)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

GRAPH = "graph"  # the whole asset graph through Dagster on the embedded default, in one run
SENSOR = "sensor"  # one tick of the landing sensor over the landing zone (runs no job)
STATUS = "status"  # `climate-assets status --json` on an instance with many runs
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
    "sensor": Workload("sensor", SENSOR, 2, 34, date(2015, 1, 1), "sensor (quick): 103 keys"),
    "status": Workload("status", STATUS, 3, 1, START, "status (quick): 20 runs", runs=20),
    "drop": Workload("drop", DROP, 3, 2, START, "drop (quick): 3 locations, day 2 dropped"),
}


def select(names: list[str], quick: bool) -> list[Workload]:
    table = QUICK if quick else FULL
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {', '.join(table)}")
    return [table[n] for n in (names or list(table))]
