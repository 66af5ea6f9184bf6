"""Contract formulas (DATA_CONTRACT.md section 2 and the privacy rule of section 4) on tiny frames,
run on the DuckDB engine (the ``engine`` fixture).

Every expected value is worked out by hand from the contract text, with the arithmetic in a
comment. Rounded scores (health_risk_index, capacity_score, resilience_score) are compared
exactly; other doubles with pytest.approx.

Input frames have the processed contract columns with their contract types, plus the lineage
columns every processed row carries (_source_file, _processed_at, _run_id), as in the pipeline.
Rows are read back from the engine and compared here.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from climate_glue.contract import HEALTH_RISKS
from climate_glue.metrics import (
    health_risks,
    hospital_resources,
    resilience_scores,
    suppress_small_counts,
)

D1 = date(2024, 7, 1)
D2 = date(2024, 7, 2)
D3 = date(2024, 7, 3)

LINEAGE_DDL = "_source_file string, _processed_at timestamp, _run_id string"
LINEAGE = ("raw/test.csv", datetime(2024, 7, 4, 12, 0, 0), "run-test")

LOCATIONS_DDL = (
    "location_id string, name string, state string, latitude double, longitude double, "
    "population bigint, elevation_m double, " + LINEAGE_DDL
)
CLIMATE_DDL = (
    "location_id string, date date, temp_max_c double, temp_min_c double, precipitation_mm double, "
    "humidity_pct double, wind_speed_ms double, aqi int, " + LINEAGE_DDL
)
HEALTH_DDL = (
    "location_id string, date date, heat_illness_cases bigint, respiratory_cases bigint, "
    "cardiovascular_cases bigint, waterborne_cases bigint, vector_borne_cases bigint, "
    "ed_visits bigint, " + LINEAGE_DDL
)
HOSPITAL_DDL = (
    "hospital_id string, location_id string, hospital_name string, date date, total_beds bigint, "
    "beds_occupied bigint, icu_beds bigint, icu_beds_occupied bigint, has_backup_power boolean, "
    "in_flood_zone boolean, " + LINEAGE_DDL
)
HEALTH_RISKS_DDL = (
    "location_id string, date date, heat_stress double, air_quality_risk double, "
    "precipitation_risk double, climate_hazard double, case_total bigint, cases_per_100k double, "
    "health_risk_index double, risk_level string, inputs_complete boolean"
)
HOSPITAL_RESOURCES_DDL = (
    "location_id string, date date, hospital_count bigint, total_beds bigint, "
    "beds_occupied bigint, icu_beds bigint, icu_beds_occupied bigint, beds_available bigint, "
    "occupancy_rate double, beds_per_1k double, icu_per_100k double, "
    "backup_power_share double, flood_exposed_share double, "
    "capacity_score double"
)

HEALTH_RISKS_COLUMNS = [
    "location_id",
    "date",
    "heat_stress",
    "air_quality_risk",
    "precipitation_risk",
    "climate_hazard",
    "case_total",
    "cases_per_100k",
    "health_risk_index",
    "risk_level",
    "inputs_complete",
]
HOSPITAL_RESOURCES_COLUMNS = [
    "location_id",
    "date",
    "hospital_count",
    "total_beds",
    "beds_occupied",
    "icu_beds",
    "icu_beds_occupied",
    "beds_available",
    "occupancy_rate",
    "beds_per_1k",
    "icu_per_100k",
    "backup_power_share",
    "flood_exposed_share",
    "capacity_score",
]
RESILIENCE_COLUMNS = [
    "location_id",
    "date",
    "health_risk_index",
    "risk_level",
    "capacity_score",
    "flood_exposed_share",
    "resilience_score",
    "resilience_category",
]

# Rounded scores: compared with ==, never approx.
EXACT = {"health_risk_index", "capacity_score", "resilience_score"}


# --------------------------------------------------------------------------- frame builders


def locations_frame(engine, populations: dict[str, int]):
    rows = [
        (loc, f"Place {loc}", "CA", 34.0, -118.0, pop, 10.0, *LINEAGE)
        for loc, pop in populations.items()
    ]
    return engine.frame(rows, LOCATIONS_DDL)


def climate_row(loc, temp_max, precipitation_mm, aqi, day=D1):
    return (loc, day, temp_max, -10.0, precipitation_mm, 50.0, 2.0, aqi, *LINEAGE)


def health_row(loc, counts, day=D1):
    return (loc, day, *counts, 7, *LINEAGE)


def hospital_row(hid, loc, total, occupied, icu, icu_occupied, backup, flood, day=D1):
    return (
        hid,
        loc,
        f"Hospital {hid}",
        day,
        total,
        occupied,
        icu,
        icu_occupied,
        backup,
        flood,
        *LINEAGE,
    )


def hr_row(loc, hri, level, day=D1):
    """A health_risks row; only health_risk_index and risk_level matter to resilience_scores."""
    return (loc, day, 0.1, 0.2, 0.3, 0.4, 12, 3.5, hri, level, True)


def res_row(loc, capacity, flood_share, day=D1):
    """A hospital_resources row; only capacity_score and flood_exposed_share matter downstream."""
    return (loc, day, 2, 100, 50, 10, 5, 50, 0.5, 1.0, 10.0, 0.5, flood_share, capacity)


# --------------------------------------------------------------------------- comparison


def rows_by(engine, frame, *key):
    rows = engine.rows(frame)
    out = {tuple(r[k] for k in key): r for r in rows}
    assert len(out) == len(rows), f"duplicate keys {key} in output"
    return out


def mismatches(actual: dict, expected: dict) -> dict:
    """Columns of one row whose value differs from the hand-computed one."""
    bad = {}
    for column, want in expected.items():
        got = actual[column]
        if isinstance(want, float) and column not in EXACT:
            ok = got is not None and got == pytest.approx(want, rel=1e-12, abs=1e-12)
        else:
            ok = got == want and type(got) is type(want)
        if not ok:
            bad[column] = {"got": got, "want": want}
    return bad


def assert_rows(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected), f"keys: got {sorted(actual)}, want {sorted(expected)}"
    problems = {key: m for key, exp in expected.items() if (m := mismatches(actual[key], exp))}
    assert not problems, problems


# --------------------------------------------------------------------------- health_risks
#
# One health_risks query over every case below; each test checks its own locations. Climate hazard is 0 (temp 27, aqi 0, precip 0) where a case only exercises
# the health side.

RISK_POPULATIONS = {
    # formulas
    "NORMAL": 100000,
    "COOL": 1000,
    "HOT": 100000,
    "NOAQI": 1000,
    "NOPRECIP": 1000,
    "NULLCNT": 60000,
    "THIRD": 300000,
    # risk_level boundaries
    "B25": 3200,
    "B2499": 8_000_000,
    "B50": 100000,
    "B4999": 8_000_000,
    "B75": 16000,
    "B7499": 8_000_000,
    # inner joins (J4 is not a known location)
    "J1": 1000,
    "J2": 1000,
    "J3": 1000,
    # rounding
    "R1": 1000,
    "R2": 1000,
    "R3": 12_163_629,
}
RISK_CLIMATE = [
    climate_row("NORMAL", 36.0, 25.0, 150),
    climate_row("COOL", 20.0, 0.0, 0),
    climate_row("HOT", 50.0, 250.0, 450),
    climate_row("NOAQI", 27.0, 50.0, None),
    climate_row("NOPRECIP", 45.0, None, 30),
    climate_row("NULLCNT", 27.0, 0.0, 0),
    climate_row("THIRD", 27.0, 0.0, 0),
    climate_row("B25", 27.0, 0.0, 0),
    climate_row("B2499", 27.0, 0.0, 0),
    climate_row("B50", 45.0, 0.0, 0),  # heat 1 -> 100*0.6*0.5*1 = 30
    climate_row("B4999", 45.0, 0.0, 0),  # 30
    climate_row("B75", 45.0, 100.0, 300),  # heat, aqi, precip all 1 -> hazard 1 -> 100*0.6*1 = 60
    climate_row("B7499", 45.0, 100.0, 300),  # 60
    climate_row("J1", 30.0, 0.0, 0),
    climate_row("J1", 30.0, 0.0, 0, day=D2),  # no health row on D2
    climate_row("J2", 30.0, 0.0, 0),  # no health row at all
    climate_row("J4", 30.0, 0.0, 0),  # not a known location
    climate_row("R1", 34.407, 0.0, 0),
    climate_row("R2", 33.099, 0.0, 0),
    climate_row("R3", 27.0, 0.0, 0),
]
RISK_HEALTH = [
    health_row("NORMAL", (10, 20, 5, 3, 2)),
    health_row("COOL", (0, 0, 0, 0, 0)),
    health_row("HOT", (20, 20, 20, 20, 20)),
    health_row("NOAQI", (0, 0, 0, 0, 0)),
    health_row("NOPRECIP", (0, 0, 0, 0, 0)),
    health_row("NULLCNT", (5, None, 5, None, 2)),
    health_row("THIRD", (1, 0, 0, 0, 0)),
    health_row("B25", (1, 0, 0, 0, 0)),
    health_row("B2499", (2499, 0, 0, 0, 0)),
    health_row("B50", (25, 0, 0, 0, 0)),
    health_row("B4999", (1999, 0, 0, 0, 0)),
    health_row("B75", (3, 0, 0, 0, 0)),
    health_row("B7499", (1499, 0, 0, 0, 0)),
    health_row("J1", (0, 0, 0, 0, 0)),
    health_row("J3", (0, 0, 0, 0, 0)),  # no climate row
    health_row("J4", (0, 0, 0, 0, 0)),  # not a known location
    health_row("R1", (0, 0, 0, 0, 0)),
    health_row("R2", (0, 0, 0, 0, 0)),
    health_row("R3", (1877, 0, 0, 0, 0)),
]


def risks_frame(engine, climate_rows, health_rows, populations):
    return health_risks(
        engine,
        engine.frame(climate_rows, CLIMATE_DDL),
        engine.frame(health_rows, HEALTH_DDL),
        locations_frame(engine, populations),
    )


@pytest.fixture
def risks(engine):
    """(columns, rows by (location_id, date)) of health_risks over all the cases above."""
    frame = risks_frame(engine, RISK_CLIMATE, RISK_HEALTH, RISK_POPULATIONS)
    return list(frame.columns), rows_by(engine, frame, "location_id", "date")


def only(rows: dict, *locations: str) -> dict:
    return {k: v for k, v in rows.items() if k[0] in locations}


def test_health_risks_columns_and_grain(risks):
    columns, rows = risks
    assert columns == HEALTH_RISKS_COLUMNS
    # one row per (location, date) present in climate, health and locations
    assert set(rows) == {(loc, D1) for loc in RISK_POPULATIONS if loc not in ("J2", "J3")}


def test_health_risks_formulas(risks):
    expected = {
        # heat (36-27)/18 = 0.5; aqi 150/300 = 0.5; precip 25/100 = 0.25
        # hazard 0.5*0.5 + 0.3*0.5 + 0.2*0.25 = 0.25 + 0.15 + 0.05 = 0.45
        # cases 10+20+5+3+2 = 40; per 100k 40/100000*100000 = 40; burden 40/50 = 0.8
        # index 100*(0.6*0.45 + 0.4*0.8) = 100*(0.27 + 0.32) = 59.00 -> high (50 <= 59 < 75)
        ("NORMAL", D1): {
            "heat_stress": 0.5,
            "air_quality_risk": 0.5,
            "precipitation_risk": 0.25,
            "climate_hazard": 0.45,
            "case_total": 40,
            "cases_per_100k": 40.0,
            "health_risk_index": 59.0,
            "risk_level": "high",
            "inputs_complete": True,
        },
        # heat (20-27)/18 = -0.39 -> clipped to 0; everything else 0 -> index 0.00 low
        ("COOL", D1): {
            "heat_stress": 0.0,
            "air_quality_risk": 0.0,
            "precipitation_risk": 0.0,
            "climate_hazard": 0.0,
            "case_total": 0,
            "cases_per_100k": 0.0,
            "health_risk_index": 0.0,
            "risk_level": "low",
            "inputs_complete": True,
        },
        # heat (50-27)/18 = 1.28 -> 1; aqi 450/300 = 1.5 -> 1; precip 250/100 = 2.5 -> 1; hazard 1.0
        # cases 5*20 = 100; per 100k 100; burden 100/50 = 2 -> 1
        # index 100*(0.6 + 0.4) = 100.00 severe
        ("HOT", D1): {
            "heat_stress": 1.0,
            "air_quality_risk": 1.0,
            "precipitation_risk": 1.0,
            "climate_hazard": 1.0,
            "case_total": 100,
            "cases_per_100k": 100.0,
            "health_risk_index": 100.0,
            "risk_level": "severe",
            "inputs_complete": True,
        },
        # heat (27-27)/18 = 0; aqi null -> 0; precip 50/100 = 0.5; hazard 0.2*0.5 = 0.1
        # index 100*0.6*0.1 = 6.00 low; aqi null -> inputs_complete false
        ("NOAQI", D1): {
            "heat_stress": 0.0,
            "air_quality_risk": 0.0,
            "precipitation_risk": 0.5,
            "climate_hazard": 0.1,
            "case_total": 0,
            "cases_per_100k": 0.0,
            "health_risk_index": 6.0,
            "risk_level": "low",
            "inputs_complete": False,
        },
        # heat (45-27)/18 = 1; aqi 30/300 = 0.1; precip null -> 0; hazard 0.5 + 0.03 = 0.53
        # index 100*0.6*0.53 = 31.80 moderate; precip null -> inputs_complete false
        ("NOPRECIP", D1): {
            "heat_stress": 1.0,
            "air_quality_risk": 0.1,
            "precipitation_risk": 0.0,
            "climate_hazard": 0.53,
            "case_total": 0,
            "cases_per_100k": 0.0,
            "health_risk_index": 31.8,
            "risk_level": "moderate",
            "inputs_complete": False,
        },
        # cases 5 + null(0) + 5 + null(0) + 2 = 12; per 100k 12/60000*100000 = 20
        # burden 20/50 = 0.4
        # index 100*0.4*0.4 = 16.00 low
        ("NULLCNT", D1): {
            "heat_stress": 0.0,
            "climate_hazard": 0.0,
            "case_total": 12,
            "cases_per_100k": 20.0,
            "health_risk_index": 16.0,
            "risk_level": "low",
            "inputs_complete": True,
        },
        # per 100k 1/300000*100000 = 0.3333...; burden 0.3333/50 = 0.006667
        # index 100*0.4*0.006667 = 0.2667 -> 0.27 low
        ("THIRD", D1): {
            "case_total": 1,
            "cases_per_100k": 1 / 3,
            "health_risk_index": 0.27,
            "risk_level": "low",
        },
    }
    assert_rows(only(risks[1], *{k[0] for k in expected}), expected)


def test_health_risks_risk_level_boundaries(risks):
    expected = {
        # 1/3200*100000 = 31.25; burden 0.625; 40*0.625 = 25.00 -> moderate (25 is not < 25)
        ("B25", D1): {"health_risk_index": 25.0, "risk_level": "moderate"},
        # 2499/8000000*100000 = 31.2375; burden 0.62475; 40*0.62475 = 24.99 -> low
        ("B2499", D1): {"health_risk_index": 24.99, "risk_level": "low"},
        # 25/100000*100000 = 25; burden 0.5; 30 + 40*0.5 = 50.00 -> high
        ("B50", D1): {"health_risk_index": 50.0, "risk_level": "high"},
        # 1999/8000000*100000 = 24.9875; burden 0.49975; 30 + 19.99 = 49.99 -> moderate
        ("B4999", D1): {"health_risk_index": 49.99, "risk_level": "moderate"},
        # 3/16000*100000 = 18.75; burden 0.375; 60 + 15 = 75.00 -> severe
        ("B75", D1): {"health_risk_index": 75.0, "risk_level": "severe"},
        # 1499/8000000*100000 = 18.7375; burden 0.37475; 60 + 14.99 = 74.99 -> high
        ("B7499", D1): {"health_risk_index": 74.99, "risk_level": "high"},
    }
    assert_rows(only(risks[1], *{k[0] for k in expected}), expected)


def test_health_risks_inner_joins(risks):
    # J1 on D2 (no health), J2 (no health), J3 (no climate), J4 (no location): no rows
    # J1 on D1: heat (30-27)/18 = 0.1667; index 100*0.6*0.5*0.16667 = 5.00
    expected = {
        ("J1", D1): {
            "heat_stress": 1 / 6,
            "health_risk_index": 5.0,
            "risk_level": "low",
        }
    }
    assert_rows(only(risks[1], "J1", "J2", "J3", "J4"), expected)


def test_health_risk_index_rounds_half_away_from_zero(risks):
    expected = {
        # heat (34.407-27)/18 = 7.407/18 = 0.4115; hazard 0.5*0.4115 = 0.20575
        # index 100*0.6*0.20575 = 12.345 exactly -> 12.35
        # (the double arithmetic gives 12.344999999999994)
        ("R1", D1): {
            "heat_stress": 0.4115,
            "climate_hazard": 0.20575,
            "health_risk_index": 12.35,
        },
        # heat (33.099-27)/18 = 6.099/18; index 30*6.099/18 = 10.165 exactly -> 10.17
        # (the double arithmetic gives 10.164999999999996)
        ("R2", D1): {"health_risk_index": 10.17},
    }
    assert_rows(only(risks[1], "R1", "R2"), expected)


def test_health_risk_index_just_below_half_rounds_down(risks):
    """A value a hair below x.xx5 in exact arithmetic must round down, not up.

    Hazard 0 (temp 27, aqi 0, precip 0), 1877 cases in a population of 12,163,629:
    index = 100*0.4*(1877/12163629*100000/50) = 80000*1877/12163629 = 150160000/12163629.
    Since 16000000*1877 = 30,032,000,000 and 2469*12163629 = 30,032,000,001, that is
    12.345 - 1/(200*12163629) = 12.345 - 0.000000000411 = 12.344999999589 -> rounds to 12.34.
    """
    expected = {
        # cases per 100k 1877/12163629*100000 = 15.4312499994862
        ("R3", D1): {
            "case_total": 1877,
            "cases_per_100k": 15.4312499994862,
            "health_risk_index": 12.34,
            "risk_level": "low",
        },
    }
    assert_rows(only(risks[1], "R3"), expected)


# --------------------------------------------------------------------------- hospital_resources

RESOURCE_POPULATIONS = {
    "L1": 100000,
    "L2": 50000,
    "L3": 1000,
    "C1": 100000,
    "C2": 100000,
}
RESOURCE_HOSPITALS = [
    # L1 on D1: three hospitals
    hospital_row("H1", "L1", 200, 150, 50, 10, True, False),
    hospital_row("H2", "L1", 100, 50, None, None, None, True),  # null icu, null backup power
    hospital_row("H3", "L1", 100, 100, 10, 10, False, True),
    # L1 on D2: one hospital
    hospital_row("H1", "L1", 200, 180, 5, 5, True, True, day=D2),
    # L2 on D1: two hospitals with zero beds
    hospital_row("H4", "L2", 0, 0, 0, 0, True, True),
    hospital_row("H5", "L2", 0, 0, None, None, None, None),
    # L2 on D2, L3 on both dates: no hospitals
    # rounding cases, D1 only
    hospital_row("H6", "C1", 64, 28, 10, 0, False, False),
    hospital_row("H7", "C2", 112, 7, 10, 0, False, False),
    # rows that must not count: a date outside `dates`, a location not in locations
    hospital_row("H1", "L1", 999, 1, 1, 1, True, True, day=D3),
    hospital_row("H9", "LX", 500, 100, 50, 10, True, True),
]

NO_HOSPITALS = {
    "hospital_count": 0,
    "total_beds": 0,
    "beds_occupied": 0,
    "icu_beds": 0,
    "icu_beds_occupied": 0,
    "beds_available": 0,
    "occupancy_rate": None,
    "beds_per_1k": 0.0,
    "icu_per_100k": 0.0,
    "backup_power_share": 0.0,
    "flood_exposed_share": 0.0,
    # 100*(0.4*0 + 0.3*(1 - coalesce(null, 1)) + 0.2*0 + 0.1*0) = 0.00
    "capacity_score": 0.0,
}


@pytest.fixture
def resources(engine):
    """(columns, rows by (location_id, date)) of hospital_resources for RESOURCE_HOSPITALS over
    dates D1, D2."""
    frame = hospital_resources(
        engine,
        engine.frame(RESOURCE_HOSPITALS, HOSPITAL_DDL),
        locations_frame(engine, RESOURCE_POPULATIONS),
        engine.frame([(D1,), (D2,)], "date date"),
    )
    return list(frame.columns), rows_by(engine, frame, "location_id", "date")


def test_hospital_resources_columns_and_grid(resources):
    columns, rows = resources
    assert columns == HOSPITAL_RESOURCES_COLUMNS
    # every location x every date of `dates`, whether or not it has hospitals; nothing for D3 or LX
    assert set(rows) == {(loc, day) for loc in RESOURCE_POPULATIONS for day in (D1, D2)}


def test_hospital_resources_aggregates(resources):
    expected = {
        # beds 200+100+100 = 400; occupied 150+50+100 = 300; icu 50+null(0)+10 = 60
        # icu occupied 10+0+10 = 20
        # available 400-300 = 100; occupancy 300/400 = 0.75
        # beds/1k 400/100000*1000 = 4 -> clip(4/3) = 1
        # icu/100k 60/100000*100000 = 60 -> clip(60/30) = 1
        # backup beds 200 (H2 null = not backed up) / 400 = 0.5
        # flood beds 100+100 = 200 / 400 = 0.5
        # capacity 100*(0.4*1 + 0.3*(1-0.75) + 0.2*1 + 0.1*0.5) = 100*(0.4+0.075+0.2+0.05) = 72.50
        ("L1", D1): {
            "hospital_count": 3,
            "total_beds": 400,
            "beds_occupied": 300,
            "icu_beds": 60,
            "icu_beds_occupied": 20,
            "beds_available": 100,
            "occupancy_rate": 0.75,
            "beds_per_1k": 4.0,
            "icu_per_100k": 60.0,
            "backup_power_share": 0.5,
            "flood_exposed_share": 0.5,
            "capacity_score": 72.5,
        },
        # beds/1k 200/100000*1000 = 2 -> 2/3; icu/100k 5 -> 5/30 = 1/6; occupancy 180/200 = 0.9
        # capacity 100*(0.4*2/3 + 0.3*0.1 + 0.2/6 + 0.1*1) = 100*(0.26667+0.03+0.03333+0.1) = 43.00
        ("L1", D2): {
            "hospital_count": 1,
            "total_beds": 200,
            "beds_occupied": 180,
            "icu_beds": 5,
            "icu_beds_occupied": 5,
            "beds_available": 20,
            "occupancy_rate": 0.9,
            "beds_per_1k": 2.0,
            "icu_per_100k": 5.0,
            "backup_power_share": 1.0,
            "flood_exposed_share": 1.0,
            "capacity_score": 43.0,
        },
        # two hospitals, zero beds: occupancy null, shares 0,
        # capacity uses coalesce(null, 1) -> 0.00
        ("L2", D1): {**NO_HOSPITALS, "hospital_count": 2},
        # no hospitals that day: count 0, sums 0
        ("L2", D2): NO_HOSPITALS,
        ("L3", D1): NO_HOSPITALS,
        ("L3", D2): NO_HOSPITALS,
    }
    assert_rows(only(resources[1], "L1", "L2", "L3"), expected)


def test_capacity_score_rounds_half_away_from_zero(resources):
    expected = {
        # beds/1k 64/100000*1000 = 0.64 -> 0.4*0.64/3; icu/100k 10 -> 0.2*10/30 = 0.2/3
        # together (0.256 + 0.2)/3 = 0.152; occupancy 28/64 = 0.4375 -> 0.3*0.5625 = 0.16875
        # capacity 100*(0.152 + 0.16875) = 32.075 exactly -> 32.08
        # (the double gives 32.074999999999996)
        ("C1", D1): {
            "beds_per_1k": 0.64,
            "icu_per_100k": 10.0,
            "occupancy_rate": 0.4375,
            "capacity_score": 32.08,
        },
        # (0.4*1.12 + 0.2)/3 = 0.648/3 = 0.216; occupancy 7/112 = 0.0625 -> 0.3*0.9375 = 0.28125
        # capacity 100*0.49725 = 49.725 exactly -> 49.73 (the double gives 49.724999999999994)
        ("C2", D1): {
            "beds_per_1k": 1.12,
            "occupancy_rate": 0.0625,
            "capacity_score": 49.73,
        },
        ("C1", D2): NO_HOSPITALS,
        ("C2", D2): NO_HOSPITALS,
    }
    assert_rows(only(resources[1], "C1", "C2"), expected)


# --------------------------------------------------------------------------- resilience_scores


def test_resilience_scores_formula_clips_and_categories(engine):
    risks_frame = engine.frame(
        [
            hr_row("S_FORMULA", 20.0, "low"),
            hr_row("S_HALF", 11.3, "low"),
            hr_row("S_TOP", 0.0, "low"),
            hr_row("S_OVER", 0.0, "low"),
            hr_row("S_ZERO", 100.0, "severe"),
            hr_row("S_UNDER", 150.0, "severe"),
            hr_row("S40", 70.0, "high"),
            hr_row("S3999", 70.0, "high"),
            hr_row("S60", 40.0, "moderate"),
            hr_row("S5999", 40.0, "moderate"),
            hr_row("S80", 30.0, "moderate"),
            hr_row("S7999", 30.0, "moderate"),
            hr_row("S_FORMULA", 20.0, "low", day=D2),  # no resources row on D2
            hr_row("ONLY_RISK", 20.0, "low"),  # no resources row at all
        ],
        HEALTH_RISKS_DDL,
    )
    resources_frame = engine.frame(
        [
            res_row("S_FORMULA", 80.0, 0.5),
            res_row("S_HALF", 50.0, 0.0),
            res_row("S_TOP", 100.0, 0.0),
            res_row("S_OVER", 130.0, 0.0),
            res_row("S_ZERO", 0.0, 1.0),
            res_row("S_UNDER", 0.0, 1.0),
            res_row("S40", 50.0, 0.6),
            res_row("S3999", 50.0, 0.601),
            res_row("S60", 60.0, 0.4),
            res_row("S5999", 60.0, 0.401),
            res_row("S80", 90.0, 0.2),
            res_row("S7999", 90.0, 0.201),
            res_row("ONLY_RES", 80.0, 0.5),  # no health_risks row
        ],
        HOSPITAL_RESOURCES_DDL,
    )
    result = resilience_scores(engine, risks_frame, resources_frame)
    assert list(result.columns) == RESILIENCE_COLUMNS
    expected = {
        # 0.45*80 + 0.45*(100-20) + 10*(1-0.5) = 36 + 36 + 5 = 77.00 -> resilient
        ("S_FORMULA", D1): {
            "health_risk_index": 20.0,
            "risk_level": "low",
            "capacity_score": 80.0,
            "flood_exposed_share": 0.5,
            "resilience_score": 77.0,
            "resilience_category": "resilient",
        },
        # 0.45*50 + 0.45*88.7 + 10*1 = 22.5 + 39.915 + 10 = 72.415 exactly -> 72.42
        # (the double gives 72.41499999999999)
        ("S_HALF", D1): {"resilience_score": 72.42, "resilience_category": "resilient"},
        # 45 + 45 + 10 = 100.00 -> highly_resilient
        ("S_TOP", D1): {
            "resilience_score": 100.0,
            "resilience_category": "highly_resilient",
        },
        # 0.45*130 + 45 + 10 = 113.5 -> clipped to 100.00
        ("S_OVER", D1): {
            "resilience_score": 100.0,
            "resilience_category": "highly_resilient",
        },
        # 0 + 0 + 0 = 0.00 -> critical
        ("S_ZERO", D1): {"resilience_score": 0.0, "resilience_category": "critical"},
        # 0 + 0.45*(100-150) + 0 = -22.5 -> clipped to 0.00
        ("S_UNDER", D1): {"resilience_score": 0.0, "resilience_category": "critical"},
        # 22.5 + 13.5 + 10*0.4 = 40.00 -> vulnerable (40 is not < 40)
        ("S40", D1): {"resilience_score": 40.0, "resilience_category": "vulnerable"},
        # 22.5 + 13.5 + 10*0.399 = 39.99 -> critical
        ("S3999", D1): {"resilience_score": 39.99, "resilience_category": "critical"},
        # 27 + 27 + 10*0.6 = 60.00 -> resilient
        ("S60", D1): {"resilience_score": 60.0, "resilience_category": "resilient"},
        # 27 + 27 + 10*0.599 = 59.99 -> vulnerable
        ("S5999", D1): {"resilience_score": 59.99, "resilience_category": "vulnerable"},
        # 40.5 + 31.5 + 10*0.8 = 80.00 -> highly_resilient
        ("S80", D1): {
            "resilience_score": 80.0,
            "resilience_category": "highly_resilient",
        },
        # 40.5 + 31.5 + 10*0.799 = 79.99 -> resilient
        ("S7999", D1): {"resilience_score": 79.99, "resilience_category": "resilient"},
    }
    # (S_FORMULA, D2), ONLY_RISK and ONLY_RES are in one input only: no row (inner join)
    assert_rows(rows_by(engine, result, "location_id", "date"), expected)


def test_resilience_uses_rounded_health_risk_index(engine):
    """THIRD's health_risk_index 0.2667 is published as 0.27, and resilience must use 0.27."""
    risks = risks_frame(
        engine,
        [climate_row("THIRD", 27.0, 0.0, 0)],
        [health_row("THIRD", (1, 0, 0, 0, 0))],
        {"THIRD": 300000},
    )
    resources_frame = engine.frame([res_row("THIRD", 20.08, 1.0)], HOSPITAL_RESOURCES_DDL)
    expected = {
        # index: 100*0.4*(1/300000*100000/50) = 0.2667 -> 0.27
        # resilience 0.45*20.08 + 0.45*(100-0.27) + 10*(1-1) = 9.036 + 44.8785 + 0
        #   = 53.9145 -> 53.91
        # (with the unrounded 0.2667 it would be 9.036 + 44.88 = 53.916 -> 53.92)
        ("THIRD", D1): {
            "health_risk_index": 0.27,
            "capacity_score": 20.08,
            "resilience_score": 53.91,
            "resilience_category": "vulnerable",
        },
    }
    assert_rows(
        rows_by(engine, resilience_scores(engine, risks, resources_frame), "location_id", "date"),
        expected,
    )


# --------------------------------------------------------------------------- privacy


def test_suppress_small_counts(engine):
    rows = [
        ("P0", D1, 0.1, 0.2, 0.3, 0.4, 0, 0.0, 10.5, "low", True),
        ("P1", D1, 0.2, 0.3, 0.4, 0.5, 1, 2.5, 20.5, "low", False),
        ("P10", D1, 0.3, 0.4, 0.5, 0.6, 10, 25.0, 30.5, "moderate", True),
        ("P11", D1, 0.4, 0.5, 0.6, 0.7, 11, 27.5, 80.5, "severe", True),
    ]
    frame = engine.frame(rows, HEALTH_RISKS_DDL)
    result = suppress_small_counts(engine, frame, HEALTH_RISKS.suppress)
    assert list(result.columns) == [*HEALTH_RISKS_COLUMNS, "suppressed"]
    actual = rows_by(engine, result, "location_id")
    # 0 and >= 11 shown; 1..10 (count and the rate from it) null with suppressed true;
    # the other columns untouched
    expected = {
        ("P0",): {**dict(zip(HEALTH_RISKS_COLUMNS, rows[0], strict=True)), "suppressed": False},
        ("P1",): {
            **dict(zip(HEALTH_RISKS_COLUMNS, rows[1], strict=True)),
            "case_total": None,
            "cases_per_100k": None,
            "suppressed": True,
        },
        ("P10",): {
            **dict(zip(HEALTH_RISKS_COLUMNS, rows[2], strict=True)),
            "case_total": None,
            "cases_per_100k": None,
            "suppressed": True,
        },
        ("P11",): {**dict(zip(HEALTH_RISKS_COLUMNS, rows[3], strict=True)), "suppressed": False},
    }
    assert actual == expected


def test_suppression_follows_the_rule_of_each_count(engine):
    """Each count hides itself and the columns computed from it; the row is flagged when any
    of its counts is 1..10; a column computed from no count is untouched."""
    rule = {"visits": ("visit_rate",), "deaths": ("death_rate", "death_share")}
    ddl = "id string, visits bigint, visit_rate double, deaths bigint, death_rate double, death_share double, score double"
    rows = [
        ("A", 3, 0.3, 20, 2.0, 0.2, 1.0),  # visits small
        ("B", 20, 2.0, 10, 1.0, 0.1, 2.0),  # deaths small
        ("C", 0, 0.0, 11, 1.1, 0.5, 3.0),  # 0 and >= 11 shown
        ("D", None, None, 5, 0.5, 0.05, 4.0),  # a null count is shown as null, not small
    ]
    result = suppress_small_counts(engine, engine.frame(rows, ddl), rule)
    expected = {
        ("A",): {
            "visits": None,
            "visit_rate": None,
            "deaths": 20,
            "death_rate": 2.0,
            "death_share": 0.2,
            "score": 1.0,
            "suppressed": True,
        },
        ("B",): {
            "visits": 20,
            "visit_rate": 2.0,
            "deaths": None,
            "death_rate": None,
            "death_share": None,
            "score": 2.0,
            "suppressed": True,
        },
        ("C",): {
            "visits": 0,
            "visit_rate": 0.0,
            "deaths": 11,
            "death_rate": 1.1,
            "death_share": 0.5,
            "score": 3.0,
            "suppressed": False,
        },
        ("D",): {
            "visits": None,
            "visit_rate": None,
            "deaths": None,
            "death_rate": None,
            "death_share": None,
            "score": 4.0,
            "suppressed": True,
        },
    }
    actual = rows_by(engine, result, "id")
    assert actual == {k: {"id": k[0], **v} for k, v in expected.items()}
