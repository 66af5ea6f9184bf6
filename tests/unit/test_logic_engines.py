"""The contract's SQL gives the same values on both engines (DuckDB and Spark), for the inputs
where the two most easily differ: rounding at .xx5, overflow, impossible dates, whole numbers
too big for their type, white space Java and RE2 disagree on, division by zero and quoted CSV.

Each case runs through ``open_engine("duckdb")`` and ``SparkEngine`` on the local session, and
the rows are compared value by value (exact ==, same Python type); the contract's value is
asserted too, so two engines agreeing on a wrong value still fails.
"""

from __future__ import annotations

from datetime import date

import pytest
from climate_glue.checks import dataset_rules, measure
from climate_glue.contract import (
    CLIMATE,
    HEALTH,
    HOSPITAL,
    LOCATIONS,
    SPARK_TYPES,
)
from climate_glue.engines import open_engine
from climate_glue.engines import spark as spark_engine
from climate_glue.engines.spark import SparkEngine
from climate_glue.lake import LocalLake
from climate_glue.metrics import health_risks, hospital_resources, resilience_scores
from climate_glue.raw import read_header
from climate_glue.rules import (
    RULE_DUPLICATE_CONFLICT,
    RULE_UNKNOWN_LOCATION,
    rejected_rows,
    valid_rows,
    validate,
)

pytestmark = pytest.mark.spark

D1 = date(2024, 7, 1)
PARTITION = D1.isoformat()


@pytest.fixture
def engines(spark):
    """{"duckdb": a fresh DuckDB engine, "spark": the local session as an engine}."""
    both = {"duckdb": open_engine("duckdb"), "spark": SparkEngine(spark)}
    try:
        yield both
    finally:
        for engine in both.values():
            engine.close()


def on_both(engines, run) -> list[dict]:
    """``run(engine) -> rows`` on both engines; the rows, once they agree value by value."""
    got = {name: run(engine) for name, engine in engines.items()}
    duck, spark = got["duckdb"], got["spark"]
    assert len(duck) == len(spark)
    differences = [
        {
            column: {"duckdb": a[column], "spark": b[column]}
            for column in a.keys() | b.keys()
            if a.get(column) != b.get(column) or type(a.get(column)) is not type(b.get(column))
        }
        for a, b in zip(duck, spark, strict=True)
    ]
    assert not any(differences), [d for d in differences if d]
    return duck


def ddl(dataset) -> str:
    return ", ".join(f"{c.name} {SPARK_TYPES[c.type]}" for c in dataset.columns)


def by(rows: list[dict], *key: str) -> list[dict]:
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))


# --------------------------------------------------------------------------- row rules

CLIMATE_BASE = {
    "location_id": "L1",
    "date": PARTITION,
    "temp_max_c": "35.5",
    "temp_min_c": "20.1",
    "precipitation_mm": "0",
    "humidity_pct": "40",
    "wind_speed_ms": "3.2",
    "aqi": "80",
}
# (label, overrides, rule): each row its own key (location L<i>).
CLIMATE_CASES = [
    ("valid", {}, None),
    ("1e999", {"precipitation_mm": "1e999"}, "precipitation_mm: not a number"),
    ("-1e999", {"temp_max_c": "-1e999"}, "temp_max_c: not a number"),
    ("2024-02-30", {"date": "2024-02-30"}, "date: not a date (YYYY-MM-DD)"),
    ("int overflow", {"aqi": "99999999999"}, "aqi: not a whole number"),
    ("vt and tab padded", {"temp_max_c": "\x0b\t36.5\t\x0b", "aqi": "\t\x0b7"}, None),
    ("vt and tab only", {"temp_min_c": "\x0b\t"}, "temp_min_c: required value is missing"),
    ("quoted comma", {"humidity_pct": "1,5"}, "humidity_pct: not a number"),
    ("unknown", {"location_id": "Z, unknown"}, RULE_UNKNOWN_LOCATION),
    ("key of 256 characters", {"location_id": "é" * 256}, RULE_UNKNOWN_LOCATION),
    ("key too long", {"location_id": "é" * 257}, "location_id: longer than 256 characters"),
]


def test_row_rules_agree(engines):
    def run(engine):
        rows = []
        for i, (_, overrides, _) in enumerate(CLIMATE_CASES, start=1):
            values = {**CLIMATE_BASE, "location_id": f"L{i}", **overrides}
            source = f"raw/climate/date={PARTITION}/a.csv"
            rows.append((*(values[c] for c in CLIMATE.column_names), source, i, PARTITION))
        raw = engine.frame(
            rows,
            ", ".join(f"{c} string" for c in CLIMATE.column_names)
            + ", _source_file string, _row bigint, _partition_date string",
        )
        known = engine.frame([(f"L{i}",) for i in range(1, 20)], "location_id string")
        return by(engine.rows(validate(engine, raw, CLIMATE, known)), "_row")

    rows = {r["_row"]: r for r in on_both(engines, run)}
    got = {label: rows[i]["_reject_rule"] for i, (label, _, _) in enumerate(CLIMATE_CASES, 1)}
    assert got == {label: rule for label, _, rule in CLIMATE_CASES}
    padded = rows[6]
    assert (padded["__v_temp_max_c"], padded["__v_aqi"]) == (36.5, 7)


def test_whole_numbers_at_the_limits_of_their_type_agree(engines):
    """aqi is an int, the health counts bigints: 99999999999 is too big only for the first."""

    def run(engine):
        base = {c: "1" for c in HEALTH.column_names} | {"date": PARTITION}
        cases = [
            {"location_id": "L1", "heat_illness_cases": "99999999999"},
            {"location_id": "L2", "heat_illness_cases": "9223372036854775807"},
            {"location_id": "L3", "heat_illness_cases": "9223372036854775808"},
            {"location_id": "L4", "ed_visits": "-0"},
        ]
        rows = [
            (*({**base, **case}[c] for c in HEALTH.column_names), "raw/h/a.csv", i, PARTITION)
            for i, case in enumerate(cases, start=1)
        ]
        raw = engine.frame(
            rows,
            ", ".join(f"{c} string" for c in HEALTH.column_names)
            + ", _source_file string, _row bigint, _partition_date string",
        )
        known = engine.frame([(f"L{i}",) for i in range(1, 5)], "location_id string")
        validated = validate(engine, raw, HEALTH, known)
        return by(engine.rows(validated), "_row")

    rows = on_both(engines, run)
    assert [(r["__v_heat_illness_cases"], r["_reject_rule"]) for r in rows] == [
        (99999999999, None),
        (9223372036854775807, None),
        (None, "heat_illness_cases: not a whole number"),
        (1, None),
    ]
    assert rows[3]["__v_ed_visits"] == 0


def test_quoted_csv_fields_agree(engines, tmp_path):
    """Quoted commas, doubled quotes and a quoted line break stay inside their field."""
    lake = LocalLake(tmp_path)
    key = "raw/locations/locations.csv"
    lake.write_bytes(
        key,
        (
            b"location_id,name,state,latitude,longitude,population,elevation_m\r\n"
            b'L1,"Springfield, IL",IL,39.8,-89.6,114394,182\r\n'
            b'L2,"The ""Big"" Apple",NY,40.7,-74.0,99999999999,10\r\n'
            b'L3,"Two\nlines",CA,"1,5",-118.2,"\x0b\t42\t",\r\n'
            b'L4,"a,b,c",,"34.05","-118.24"," 7 ",93\r\n'
        ),
    )
    raw_file = read_header(lake, key, LOCATIONS, None)

    def run(engine):
        read = engine.read_raw(lake, LOCATIONS, [raw_file])
        scan = read.scans[key]
        assert (scan.rows, scan.ragged, scan.not_utf8) == (4, 0, 0)
        validated = validate(engine, read.frame, LOCATIONS)
        return by(engine.rows(validated), "_row")

    rows = on_both(engines, run)
    assert [(r["_row"], r["name"], r["_reject_rule"]) for r in rows] == [
        (1, "Springfield, IL", None),
        (2, 'The "Big" Apple', None),
        (3, "Two\nlines", "latitude: not a number"),
        (4, "a,b,c", None),
    ]
    assert [r["_source_file"] for r in rows] == [key] * 4
    assert rows[1]["__v_population"] == 99999999999
    assert rows[2]["__v_population"] == 42 and rows[2]["latitude"] == "1,5"
    assert rows[3]["__v_population"] == 7 and rows[3]["__v_latitude"] == 34.05


def test_a_large_raw_read_raises_the_jobs_shuffle_partitions(spark, tmp_path, monkeypatch):
    """More raw rows than ROWS_PER_SHUFFLE_PARTITION (here 1) per shuffle partition: the job's
    shuffles get one partition per that many rows, the duplicate rule decides as on a single
    partition, and closing the job gives the session its own number back."""
    monkeypatch.setattr(spark_engine, "ROWS_PER_SHUFFLE_PARTITION", 1)
    lake = LocalLake(tmp_path)
    key = "raw/locations/locations.csv"
    header = b"location_id,name,state,latitude,longitude,population,elevation_m\n"
    rows = [b"L1,A,IL,1,2,100,5", b"L2,B,NY,1,2,100,5", b"L1,A,IL,1,2,100,5"]
    rows += [b"L2,B,NY,1,2,999,5", *(b"L%d,C,CA,1,2,100,5" % i for i in range(3, 8))]
    lake.write_bytes(key, header + b"\n".join(rows) + b"\n")
    before = spark.conf.get(spark_engine.SHUFFLE_PARTITIONS)
    engine = SparkEngine(spark)
    try:
        raw = engine.read_raw(lake, LOCATIONS, [read_header(lake, key, LOCATIONS, None)]).frame
        assert spark.conf.get(spark_engine.SHUFFLE_PARTITIONS) == "9"
        validated = by(engine.rows(validate(engine, raw, LOCATIONS)), "_row")
    finally:
        engine.close()
    assert spark.conf.get(spark_engine.SHUFFLE_PARTITIONS) == before
    decided = [(r["location_id"], r["_reject_rule"], r["_duplicate_dropped"]) for r in validated]
    assert decided[:4] == [
        ("L1", None, True),  # identical to row 3, which is kept
        ("L2", RULE_DUPLICATE_CONFLICT, False),
        ("L1", None, False),
        ("L2", RULE_DUPLICATE_CONFLICT, False),
    ]
    assert decided[4:] == [(f"L{i}", None, False) for i in range(3, 8)]


def test_valid_and_rejected_rows_agree(engines):
    """The two outputs of validate(): typed valid rows, raw rejected rows."""

    def run(engine):
        rows = [
            ("L1", PARTITION, " 35.5 ", "20", "1e999", None, None, None),
            ("L2", PARTITION, "35.5", "20", "0", None, None, "\x0b80\x0b"),
        ]
        raw = engine.frame(
            [(*r, f"raw/climate/date={PARTITION}/a.csv", i, PARTITION) for i, r in enumerate(rows)],
            ", ".join(f"{c} string" for c in CLIMATE.column_names)
            + ", _source_file string, _row bigint, _partition_date string",
        )
        known = engine.frame([("L1",), ("L2",)], "location_id string")
        validated = validate(engine, raw, CLIMATE, known)
        return by(engine.rows(valid_rows(engine, validated, CLIMATE)), "location_id") + by(
            engine.rows(rejected_rows(engine, validated, CLIMATE)), "_row"
        )

    valid, rejected = on_both(engines, run)
    assert (valid["location_id"], valid["aqi"], valid["precipitation_mm"]) == ("L2", 80, 0.0)
    assert (rejected["location_id"], rejected["precipitation_mm"]) == ("L1", "1e999")
    assert rejected["_reject_rule"] == "precipitation_mm: not a number"


# --------------------------------------------------------------------------- formulas


def test_scores_round_half_away_from_zero_alike(engines):
    """Exact .xx5 values the double arithmetic puts a hair below (12.345 -> 12.35, 10.165 ->
    10.17) and a value truly a hair below (12.344999999589 -> 12.34)."""

    def climate(loc, temp):
        return (loc, D1, temp, -10.0, 0.0, 50.0, 2.0, 0)

    def run(engine):
        risks = health_risks(
            engine,
            engine.frame(
                [climate("R1", 34.407), climate("R2", 33.099), climate("R3", 27.0)], ddl(CLIMATE)
            ),
            engine.frame(
                [
                    ("R1", D1, 0, 0, 0, 0, 0, 7),
                    ("R2", D1, 0, 0, 0, 0, 0, 7),
                    ("R3", D1, 1877, 0, 0, 0, 0, 7),
                ],
                ddl(HEALTH),
            ),
            engine.frame(
                [
                    ("R1", "R1", "CA", 34.0, -118.0, 1000, 1.0),
                    ("R2", "R2", "CA", 34.0, -118.0, 1000, 1.0),
                    ("R3", "R3", "CA", 34.0, -118.0, 12_163_629, 1.0),
                ],
                ddl(LOCATIONS),
            ),
        )
        return by(engine.rows(risks), "location_id")

    rows = on_both(engines, run)
    assert [r["health_risk_index"] for r in rows] == [12.35, 10.17, 12.34]


def test_hospital_resources_with_zero_beds_and_rounding_agree(engines):
    """total_beds 0: occupancy is null (no division by zero), shares 0; 32.075 -> 32.08."""

    def hospital(hid, loc, total, occupied, icu):
        return (hid, loc, "H", D1, total, occupied, icu, 0, False, False)

    def run(engine):
        resources = hospital_resources(
            engine,
            engine.frame(
                [
                    hospital("H1", "ZERO", 0, 0, 0),
                    hospital("H2", "ZERO", 0, 0, None),
                    hospital("H3", "C1", 64, 28, 10),
                    hospital("H4", "C2", 112, 7, 10),
                ],
                ddl(HOSPITAL),
            ),
            engine.frame(
                [(loc, loc, "CA", 34.0, -118.0, 100000, 1.0) for loc in ("ZERO", "C1", "C2")],
                ddl(LOCATIONS),
            ),
            engine.frame([(D1,)], "date date"),
        )
        return by(engine.rows(resources), "location_id")

    c1, c2, zero = on_both(engines, run)
    assert (zero["hospital_count"], zero["total_beds"], zero["occupancy_rate"]) == (2, 0, None)
    assert (zero["backup_power_share"], zero["flood_exposed_share"]) == (0.0, 0.0)
    assert zero["capacity_score"] == 0.0
    assert (c1["capacity_score"], c2["capacity_score"]) == (32.08, 49.73)


def test_resilience_rounding_agrees(engines):
    """0.45*50 + 0.45*88.7 + 10 = 72.415 exactly (72.41499999999999 as a double) -> 72.42."""
    risks_ddl = ", ".join(
        f"{c} {SPARK_TYPES[t]}"
        for c, t in {
            "location_id": "string",
            "date": "date",
            "health_risk_index": "double",
            "risk_level": "string",
        }.items()
    )
    resources_ddl = (
        "location_id string, date date, capacity_score double, flood_exposed_share double"
    )

    def run(engine):
        scores = resilience_scores(
            engine,
            engine.frame([("S", D1, 11.3, "low")], risks_ddl),
            engine.frame([("S", D1, 50.0, 0.0)], resources_ddl),
        )
        return engine.rows(scores)

    (row,) = on_both(engines, run)
    assert (row["resilience_score"], row["resilience_category"]) == (72.42, "resilient")


# --------------------------------------------------------------------------- checks


def test_measure_agrees_on_a_key_with_a_null_part(engines):
    """A null location_id is a key of its own: not a duplicate, but a required value missing."""

    def run(engine):
        frame = engine.frame(
            [
                ("A", D1, 30.0, 20.0, 0.0, None, None, None),
                ("A", D1, 31.0, 20.0, 0.0, None, None, None),
                (None, D1, 30.0, 20.0, 0.0, None, None, None),
            ],
            ddl(CLIMATE),
        )
        known = engine.frame([("A",)], "location_id string")
        m = measure(engine, frame, CLIMATE.key, dataset_rules(CLIMATE), known, days=[PARTITION])
        return [
            {
                "rows": m.rows,
                "duplicate_keys": m.duplicate_keys,
                "broken": m.broken,
                "samples": m.samples,
            }
        ]

    (m,) = on_both(engines, run)
    assert m["rows"] == {PARTITION: 3}
    assert m["duplicate_keys"] == {PARTITION: 1}
    assert m["broken"][PARTITION]["location_id not null"] == 1
    assert m["samples"]["unique_key"] == ["A|2024-07-01"]
    assert m["samples"]["location_id not null"] == ["<null>|2024-07-01"]
