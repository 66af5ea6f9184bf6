"""The whole graph end to end on the embedded default, through the real CLI.

``climate-assets generate`` writes a small landing zone (plus a few bad rows added here),
``climate-assets demo`` materializes every asset through Dagster with the real local engine
(PySpark) and a real PostgreSQL (embedded), and the tests read what it published: PostgreSQL
rows, lake Parquet, CSV and JSON exports, and the DuckDB views. A re-run of one partition must
change nothing but that partition's lineage.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from tests.support import materialize_days, run_cli

pytestmark = pytest.mark.e2e

START = date(2024, 7, 1)
DAYS = [date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)]
LOCATIONS = 6
SEED = 11
DATA_COLUMNS = {
    "climate_data": ["location_id", "date", "temp_max_c", "temp_min_c", "precipitation_mm", "aqi"],
    "health_risks": ["location_id", "date", "health_risk_index", "risk_level", "case_total"],
    "hospital_resources": ["location_id", "date", "hospital_count", "total_beds", "capacity_score"],
    "resilience_scores": ["location_id", "date", "resilience_score", "resilience_category"],
}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run_cli(env, *args)


def _append_rows(path: Path, rows: list[str]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row + "\n")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Generate, spoil a few rows on purpose, run the demo; return paths and the CLI output."""
    state = tmp_path_factory.mktemp("state")
    # The rows spoiled below are a third of day 1's climate rows: allow that many rejects here
    # (the reject-rate check itself is tested in tests/dagster/test_quality_checks.py).
    env = {**os.environ, "CLIMATE_STATE_DIR": str(state), "CLIMATE_MAX_REJECT_RATE": "0.5"}
    env.pop("CLIMATE_WAREHOUSE_URL", None)
    env.pop("CLIMATE_LAKE_ROOT", None)
    generated = _cli(
        env, "generate", "--locations", str(LOCATIONS), "--days", str(len(DAYS)),
        "--start", START.isoformat(), "--seed", str(SEED),
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    lake = state / "lake"
    climate_day1 = lake / "raw/climate/date=2024-07-01/climate.csv"
    a_location = _read_csv(lake / "raw/locations/locations.csv")[0]["location_id"]
    # A location with a leading-zero id and no observations or hospitals at all.
    _append_rows(
        lake / "raw/locations/locations.csv", ["00123,Quiet County,AL,32.1,-87.2,2500,50.0"]
    )
    # Three bad rows: two locations that do not exist, and a day in the wrong folder.
    _append_rows(
        climate_day1,
        [
            f"{a_location}x,2024-07-01,30.0,20.0,0.0,50,2.0,40",
            "99999,2024-07-01,30.0,20.0,0.0,50,2.0,40",
            f"{a_location},2024-07-09,30.0,20.0,0.0,50,2.0,40",
        ],
    )
    result = _cli(env, "demo")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return {
        "state": state,
        "lake": lake,
        "env": env,
        "stdout": result.stdout,
        "output": result.stdout + result.stderr,
    }


def _connect(state: Path) -> psycopg.Connection:
    import pgserver

    return psycopg.connect(pgserver.get_server(state / "pgdata").get_uri("climate"))


def _rows(conn: psycopg.Connection, table: str, columns: list[str]) -> list[tuple]:
    query = sql.SQL("SELECT {} FROM climate_health.{} ORDER BY 1, 2").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
    )
    return conn.execute(query).fetchall()


def test_demo_summary_names_tables_and_outputs(demo):
    out = demo["stdout"]
    assert "succeeded" in out
    for table in ("locations", "climate_data", "health_risks", "resilience_scores"):
        assert table in out
    assert "climate-assets dev" in out
    assert "3 rejected" in out  # the three bad climate rows, counted in the summary


def test_demo_prints_no_warning(demo):
    """Nothing a user cannot act on: no Python warning, no Spark start-up notice."""
    output = demo["output"]
    assert "Warning" not in output, output[-5000:]
    assert " WARN " not in output, output[-5000:]


def test_postgres_tables_have_every_row_with_keys_and_lineage(demo):
    raw_locations = _read_csv(demo["lake"] / "raw/locations/locations.csv")
    raw_hospitals = sum(
        len(_read_csv(demo["lake"] / f"raw/hospital/date={day}/hospital.csv")) for day in DAYS
    )
    with _connect(demo["state"]) as conn:
        ids = [r[0] for r in conn.execute("SELECT location_id FROM climate_health.locations")]
        assert sorted(ids) == sorted(r["location_id"] for r in raw_locations)
        assert "00123" in ids and all(len(i) == 5 for i in ids)
        counts = {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM climate_health.{}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in (
                "climate_data", "health_data", "hospital_data",
                "health_risks", "hospital_resources", "resilience_scores",
            )
        }  # fmt: skip
        assert counts["climate_data"] == LOCATIONS * len(DAYS)  # bad rows rejected
        assert counts["health_data"] == LOCATIONS * len(DAYS)
        assert counts["hospital_data"] == raw_hospitals
        assert counts["health_risks"] == LOCATIONS * len(DAYS)
        # Every location x every date, the one without hospitals included (with zeros).
        assert counts["hospital_resources"] == (LOCATIONS + 1) * len(DAYS)
        quiet = conn.execute(
            "SELECT hospital_count, total_beds, occupancy_rate, capacity_score"
            " FROM climate_health.hospital_resources WHERE location_id = '00123'"
        ).fetchall()
        assert quiet == [(0, 0, None, 0.0)] * len(DAYS)
        assert counts["resilience_scores"] == LOCATIONS * len(DAYS)
        primary_keys = dict(
            conn.execute(
                """SELECT tc.table_name, string_agg(kcu.column_name, ',' ORDER BY kcu.ordinal_position)
                   FROM information_schema.table_constraints tc
                   JOIN information_schema.key_column_usage kcu USING (constraint_name, table_schema)
                   WHERE tc.table_schema = 'climate_health' AND tc.constraint_type = 'PRIMARY KEY'
                   GROUP BY tc.table_name"""
            ).fetchall()
        )
        assert primary_keys["locations"] == "location_id"
        assert primary_keys["climate_data"] == "location_id,date"
        assert primary_keys["hospital_data"] == "hospital_id,date"
        assert primary_keys["resilience_scores"] == "location_id,date"
        lineage = conn.execute(
            "SELECT count(*) FROM climate_health.resilience_scores"
            " WHERE _source_file IS NULL OR _processed_at IS NULL OR _run_id IS NULL"
        ).fetchone()[0]
        assert lineage == 0
        sources = {
            r[0] for r in conn.execute("SELECT _source_file FROM climate_health.climate_data")
        }
        assert sources == {f"raw/climate/date={day}/climate.csv" for day in DAYS}


def test_rejects_area_has_each_bad_row_with_its_rule(demo):
    files = list((demo["lake"] / "rejects/climate/date=2024-07-01").glob("*.csv"))
    rows = [row for f in files for row in _read_csv(f)]
    rules = sorted(r["_reject_rule"] for r in rows)
    assert rules == [
        "date: does not match its partition folder",
        "location_id: unknown location",
        "location_id: unknown location",
    ]
    assert {r["_source_file"] for r in rows} == {"raw/climate/date=2024-07-01/climate.csv"}
    assert all(int(r["_row"]) > LOCATIONS for r in rows)  # appended after the generated rows
    assert not list((demo["lake"] / "rejects/climate/date=2024-07-02").glob("*.csv"))


def test_lake_parquet_is_hive_partitioned_and_matches_postgres(demo):
    lake = demo["lake"]
    for asset, layer in (("climate_data", "processed"), ("resilience_scores", "curated")):
        for day in DAYS:
            folder = lake / layer / asset / f"year={day:%Y}/month={day:%m}/day={day:%d}"
            assert list(folder.glob("*.parquet")), folder
        table = pq.read_table(lake / layer / asset)
        assert table.num_rows == LOCATIONS * len(DAYS)
        assert {"_source_file", "_processed_at", "_run_id"} <= set(table.column_names)
    assert list((lake / "processed/locations").glob("*.parquet"))
    assert not (lake / "_staging").exists() or not any((lake / "_staging").iterdir())


def test_exports_are_csv_and_json_lines_with_small_counts_suppressed(demo):
    lake = demo["lake"]
    expected = {
        "health_risks": LOCATIONS,
        "hospital_resources": LOCATIONS + 1,
        "resilience_scores": LOCATIONS,
    }
    for asset, per_day in expected.items():
        csv_rows = [r for f in (lake / "exports/csv" / asset).rglob("*.csv") for r in _read_csv(f)]
        json_rows = [
            json.loads(line)
            for f in (lake / "exports/json" / asset).rglob("*.json")
            for line in f.read_text().splitlines()
        ]
        assert len(csv_rows) == len(json_rows) == per_day * len(DAYS)
    risks = [
        json.loads(line)
        for f in (lake / "exports/json/health_risks").rglob("*.json")
        for line in f.read_text().splitlines()
    ]
    with _connect(demo["state"]) as conn:
        true_totals = dict(
            ((r[0], r[1].isoformat()), r[2])
            for r in conn.execute(
                "SELECT location_id, date, case_total FROM climate_health.health_risks"
            )
        )
    for row in risks:
        true_total = true_totals[(row["location_id"], row["date"])]
        if 1 <= true_total <= 10:
            assert row["suppressed"] is True
            assert row["case_total"] is None and row["cases_per_100k"] is None
        else:
            assert row["suppressed"] is False and row["case_total"] == true_total


def test_duckdb_views_read_the_lake(demo):
    con = duckdb.connect(str(demo["state"] / "athena.duckdb"), read_only=True)
    try:
        views = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'climate_health'"
            ).fetchall()
        }
        assert views == {
            "locations", "climate_data", "health_data", "hospital_data",
            "health_risks", "hospital_resources", "resilience_scores",
        }  # fmt: skip
        count = con.execute("SELECT count(*) FROM climate_health.resilience_scores").fetchone()[0]
        assert count == LOCATIONS * len(DAYS)
        days = con.execute(
            "SELECT DISTINCT day FROM climate_health.climate_data ORDER BY day"
        ).fetchall()
        assert [int(d[0]) for d in days] == [1, 2, 3]
    finally:
        con.close()


def test_shared_athena_tables_suppress_small_counts(demo):
    """climate_health_shared.* read the JSON exports: counts 1..10 null and flagged there, while
    climate_health.* (and PostgreSQL) keep the true counts."""
    con = duckdb.connect(str(demo["state"] / "athena.duckdb"), read_only=True)
    try:
        views = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'climate_health_shared'"
            ).fetchall()
        }
        assert views == {"health_risks", "hospital_resources", "resilience_scores"}
        shared = con.execute(
            "SELECT location_id, CAST(date AS VARCHAR), case_total, cases_per_100k, suppressed"
            " FROM climate_health_shared.health_risks"
        ).fetchall()
        internal = con.execute(
            "SELECT location_id, CAST(date AS VARCHAR), case_total FROM climate_health.health_risks"
        ).fetchall()
    finally:
        con.close()
    true_totals = {(r[0], r[1]): r[2] for r in internal}
    assert len(shared) == len(internal) == LOCATIONS * len(DAYS)
    for location, day, total, rate, suppressed in shared:
        true_total = true_totals[(location, day)]
        if 1 <= true_total <= 10:
            assert suppressed is True and total is None and rate is None
        else:
            assert suppressed is False and total == true_total and rate is not None


def test_shared_athena_tables_declare_the_contract_columns(demo):
    """The JSON tables' columns are the contract's, typed as the Glue tables declare them on AWS
    (not sampled from the files): the same names in order, then the Hive partition columns."""
    from climate_glue.engines.duck import DUCKDB_TYPES

    from climate_assets.defs.athena.assets import shared_table_specs
    from climate_assets.resources.athena import contract_types

    con = duckdb.connect(str(demo["state"] / "athena.duckdb"), read_only=True)
    try:
        for spec in shared_table_specs():
            described = con.execute(f"DESCRIBE climate_health_shared.{spec.name}").fetchall()
            wanted = [(n, DUCKDB_TYPES[t]) for n, t in contract_types(spec).items()]
            columns = [
                (row[0], row[1].replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"))
                for row in described
            ]
            assert columns[: len(wanted)] == wanted
            assert [c for c, _ in columns[len(wanted) :]] == ["day", "month", "year"]
    finally:
        con.close()


def _run_ids_by_day(conn: psycopg.Connection) -> dict[str, str]:
    query = "SELECT date::text, min(_run_id) FROM climate_health.resilience_scores GROUP BY date"
    return dict(conn.execute(query).fetchall())


def test_rerun_of_one_partition_changes_nothing_else(demo):
    """Re-running 2024-07-02 replaces exactly that partition: same rows, new lineage there only."""
    state = demo["state"]
    with _connect(state) as conn:
        before = {t: _rows(conn, t, c) for t, c in DATA_COLUMNS.items()}
        run_ids_before = _run_ids_by_day(conn)
    result, _ = materialize_days(state, "2024-07-02", "2024-07-02")
    assert result.success
    with _connect(state) as conn:
        after = {t: _rows(conn, t, c) for t, c in DATA_COLUMNS.items()}
        run_ids_after = _run_ids_by_day(conn)
    assert after == before
    assert run_ids_after["2024-07-01"] == run_ids_before["2024-07-01"]
    assert run_ids_after["2024-07-03"] == run_ids_before["2024-07-03"]
    assert run_ids_after["2024-07-02"] == result.run_id
    day2 = demo["lake"] / "curated/resilience_scores/year=2024/month=07/day=02"
    assert pq.read_table(day2).num_rows == LOCATIONS
    assert pq.read_table(demo["lake"] / "curated/resilience_scores").num_rows == LOCATIONS * len(
        DAYS
    )


def test_failed_job_leaves_published_partition_untouched(demo):
    """A day-2 climate file that loses a required column fails the job with the file and the
    problem named, and day 2 stays as published in PostgreSQL and in the lake."""

    from climate_assets.constants import CLIMATE_DATA

    state, lake = demo["state"], demo["lake"]
    raw = lake / "raw/climate/date=2024-07-02/climate.csv"
    original = raw.read_text(encoding="utf-8")
    published = lake / "processed/climate_data/year=2024/month=07/day=02"
    files_before = sorted(p.name for p in published.iterdir())
    with _connect(state) as conn:
        before = _rows(conn, "climate_data", DATA_COLUMNS["climate_data"])
    lines = original.splitlines()
    header = lines[0].split(",")
    drop = header.index("temp_max_c")
    raw.write_text(
        "\n".join(",".join(v for i, v in enumerate(line.split(",")) if i != drop) for line in lines)
        + "\n",
        encoding="utf-8",
    )
    try:
        result, _ = materialize_days(state, "2024-07-02", "2024-07-02", [CLIMATE_DATA])
    finally:
        raw.write_text(original, encoding="utf-8")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.to_string()
    assert (
        "raw/climate/date=2024-07-02/climate.csv: missing required column(s): temp_max_c" in message
    )
    with _connect(state) as conn:
        assert _rows(conn, "climate_data", DATA_COLUMNS["climate_data"]) == before
    assert sorted(p.name for p in published.iterdir()) == files_before
