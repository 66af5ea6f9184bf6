"""Asset checks through Dagster: reported by the Glue jobs through Pipes, blocking per day.

One landing zone of two days; day 1 has a climate row for a location that does not exist (a
reject rate of 25%, above the 1% default) and day 2's hospital file has a column the contract
does not list. Per-day runs: day 1's blocking check stops day 1's derived metrics, day 2's run
publishes them. ``climate-assets check`` over the same landing zone (one range run) exits
non-zero and prints the failing check.
"""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from climate_assets.constants import CLIMATE_DATA, HEALTH_RISKS, HOSPITAL_DATA
from climate_cli import cli
from climate_cli.generate import generate_landing_zone
from tests.support import materialize_days

pytestmark = pytest.mark.e2e

D1, D2 = "2024-07-01", "2024-07-02"


def _curated_day(lake, asset: str, day: str):
    return lake / f"curated/{asset}/year=2024/month=07/day={day[-2:]}"


@pytest.fixture(scope="module")
def spoiled_landing(tmp_path_factory):
    state = tmp_path_factory.mktemp("checks")
    lake = state / "lake"
    generate_landing_zone(lake, locations=3, days=2, start=date(2024, 7, 1), seed=9)
    climate = lake / f"raw/climate/date={D1}/climate.csv"
    with climate.open("a", encoding="utf-8") as handle:
        handle.write(f"99999,{D1},30.0,20.0,0.0,50,2.0,40\n")
    hospital = lake / f"raw/hospital/date={D2}/hospital.csv"
    lines = hospital.read_text(encoding="utf-8").splitlines()
    drifted = [lines[0] + ",generator_fuel"] + [line + ",diesel" for line in lines[1:]]
    hospital.write_text("\n".join(drifted) + "\n", encoding="utf-8")
    return state, lake


def _evaluations(result):
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def test_blocking_check_on_one_day_stops_that_days_derived_metrics_only(spoiled_landing):
    state, lake = spoiled_landing
    day1, _ = materialize_days(state, D1, D1)
    assert not day1.success
    checks = _evaluations(day1)
    rate = checks[(CLIMATE_DATA.to_user_string(), "reject_rate")]
    assert not rate.passed and rate.severity.value == "ERROR"
    metadata = {k: v.value for k, v in rate.metadata.items()}
    assert metadata["rows_rejected"] == 1 and metadata["rows_read"] == 4
    assert metadata["failing_days"] == [D1] and metadata["max_reject_rate"] == 0.01
    assert metadata["sample_rejects"] == [
        f"raw/climate/date={D1}/climate.csv row 4: location_id: unknown location"
    ]
    assert checks[(CLIMATE_DATA.to_user_string(), "known_locations")].passed  # rejected, not loaded
    assert not any(key[0] == HEALTH_RISKS.to_user_string() for key in checks)
    materialized = {e.asset_key for e in day1.get_asset_materialization_events()}
    assert CLIMATE_DATA in materialized and HEALTH_RISKS not in materialized
    assert not _curated_day(lake, "health_risks", D1).exists()

    day2, _ = materialize_days(state, D2, D2)
    assert day2.success
    checks = _evaluations(day2)
    assert all(e.passed for k, e in checks.items() if k[1] != "schema_unchanged")
    drift = checks[(HOSPITAL_DATA.to_user_string(), "schema_unchanged")]
    assert not drift.passed and drift.severity.value == "WARN"  # reported, not blocking
    assert drift.metadata["extra_columns_by_file"].value == {
        f"raw/hospital/date={D2}/hospital.csv": ["generator_fuel"]
    }
    assert checks[(HEALTH_RISKS.to_user_string(), "values_in_range")].passed
    assert pq.read_table(_curated_day(lake, "health_risks", D2)).num_rows == 3
    assert not _curated_day(lake, "health_risks", D1).exists()


def test_check_command_fails_on_a_spoiled_landing_zone(spoiled_landing, tmp_path, capsys):
    """A range run: the blocking failure on day 1 stops the derived step for the whole range
    (Dagster blocks a step, not a partition), so day 2's published metrics stay as they were."""
    _, lake = spoiled_landing
    published = _curated_day(lake, "health_risks", D2)
    before = sorted(p.name for p in published.iterdir()) if published.exists() else None
    code = cli.main(["check", "--lake-root", str(lake), "--state-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL (ERROR) climate_data:reject_rate" in out
    assert f"failing_days=['{D1}']" in out
    assert "PASS         locations:unique_key" in out
    if before is not None:
        assert sorted(p.name for p in published.iterdir()) == before


def _partition_bytes(lake, asset: str, day: str) -> dict[str, bytes]:
    folder = lake / f"processed/{asset}/year=2024/month=07/day={day[-2:]}"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _warehouse_rows(state, table: str, day: str) -> list[tuple]:
    import psycopg
    from climate_glue.warehouse import EMBEDDED_DATABASE

    from climate_assets.resources.embedded_postgres import embedded_server

    uri = embedded_server(str(state / "pgdata")).get_uri(EMBEDDED_DATABASE)
    with psycopg.connect(uri) as conn:
        return conn.execute(
            f"SELECT * FROM climate_health.{table} WHERE date = %s ORDER BY 1, 2", (day,)
        ).fetchall()


def _curated_run_ids(lake, day: str) -> set[str]:
    table = pq.read_table(_curated_day(lake, "health_risks", day), columns=["_run_id"])
    return set(table.column("_run_id").to_pylist())


def test_a_failing_blocking_check_publishes_nothing_of_its_day(tmp_path):
    """Write, audit, publish: a range published clean, then day 1 spoiled (a reject rate above
    the threshold) and the range run again. The job audits its staged output before publishing:
    day 1's processed Parquet and PostgreSQL rows stay byte for byte as they were, day 2 is
    published again (this run's rows), and the run fails naming the check and the day. Then the
    held-days sensor derives day 2's metrics around the held day; day 1's stay as they were."""
    import dagster as dg

    from climate_assets.constants import DERIVED_ASSETS
    from climate_assets.defs.automation.held_days import held_days_sensor

    state, lake = tmp_path, tmp_path / "lake"
    generate_landing_zone(lake, locations=3, days=2, start=date(2024, 7, 1), seed=9)
    with dg.instance_for_test() as instance:
        first, _ = materialize_days(state, D1, D2, instance=instance)
        assert first.success
        files_before = _partition_bytes(lake, "climate_data", D1)
        rows_before = _warehouse_rows(state, "climate_data", D1)

        with (lake / f"raw/climate/date={D1}/climate.csv").open("a", encoding="utf-8") as handle:
            handle.write(f"99999,{D1},30.0,20.0,0.0,50,2.0,40\n")
        second, event_log = materialize_days(state, D1, D2, instance=instance)
        assert not second.success
        rate = _evaluations(second)[(CLIMATE_DATA.to_user_string(), "reject_rate")]
        assert not rate.passed and rate.metadata["failing_days"].value == [D1]
        assert (
            f"climate_data: blocking check(s) failed on the staged output, not published: {D1}:"
            " climate_data:reject_rate (rows_read=7, rows_rejected=1, reject_rate=0.142857,"
            f" max_reject_rate=0.01, failing_days=['{D1}'])"
        ) in event_log
        climate = next(
            e for e in second.get_asset_materialization_events() if e.asset_key == CLIMATE_DATA
        )
        held = climate.materialization.metadata["held_back"].value
        assert held == {"days": [D1], "checks": ["climate_data:reject_rate"]}

        assert _partition_bytes(lake, "climate_data", D1) == files_before
        assert _warehouse_rows(state, "climate_data", D1) == rows_before
        day2 = _warehouse_rows(state, "climate_data", D2)
        assert day2 and {r[-1] for r in day2} == {second.run_id}  # _run_id: this run's rows
        rejects = (lake / f"rejects/climate/date={D1}").glob("*.csv")
        assert any("unknown location" in p.read_text(encoding="utf-8") for p in rejects)
        assert _curated_run_ids(lake, D2) == {first.run_id}  # the derived step was skipped

        # The daemon's held-days sensor, evaluated on the failed run: day 2 around day 1.
        run = instance.get_run_by_id(second.run_id)
        failure = instance.get_records_for_run(
            second.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records[0]
        requests = held_days_sensor(dg.define_asset_job("climate_graph"))(
            dg.build_run_status_sensor_context(
                sensor_name="held",
                dagster_event=failure.event_log_entry.dagster_event,
                dagster_instance=instance,
                dagster_run=run,
            ).for_run_failure()
        )
        assert [
            (
                r.tags["dagster/asset_partition_range_start"],
                r.tags["dagster/asset_partition_range_end"],
                r.asset_selection,
            )
            for r in requests
        ] == [(D2, D2, list(DERIVED_ASSETS))]
        around, _ = materialize_days(
            state, D2, D2, asset_selection=DERIVED_ASSETS, instance=instance
        )
        assert around.success
        assert _curated_run_ids(lake, D2) == {around.run_id}
        assert _curated_run_ids(lake, D1) == {first.run_id}


def test_a_row_count_collapse_of_the_derived_metrics_publishes_nothing(tmp_path):
    """The issue's case: a valid locations file that replaces the master list (no old location
    left) makes the derived metrics of every day 0 rows. The derived job's row_count check fails
    on its staged output, so the curated Parquet, the exports and the PostgreSQL rows of those
    days stay as they were, and the run fails naming the check."""
    import dagster as dg

    from climate_assets.constants import DERIVED_ASSETS, LOCATIONS

    state, lake = tmp_path, tmp_path / "lake"
    generate_landing_zone(lake, locations=3, days=2, start=date(2024, 7, 1), seed=9)
    with dg.instance_for_test() as instance:
        first, _ = materialize_days(state, D1, D2, instance=instance)
        assert first.success
        curated = lake / "curated/resilience_scores"
        exports = lake / "exports/json/resilience_scores"
        before = {
            str(p.relative_to(lake)): p.read_bytes()
            for root in (curated, exports)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        rows_before = _warehouse_rows(state, "resilience_scores", D1)
        assert rows_before

        raw = lake / "raw/locations/locations.csv"
        header, *rows = raw.read_text(encoding="utf-8").splitlines()
        raw.write_text("\n".join([header, *("X" + row for row in rows)]) + "\n", encoding="utf-8")
        second, event_log = materialize_days(
            state, D1, D2, asset_selection=[LOCATIONS, *DERIVED_ASSETS], instance=instance
        )
        assert not second.success
        count = _evaluations(second)[("resilience_scores", "row_count")]
        assert not count.passed
        assert sorted(count.metadata["failing_days"].value) == [D1, D2]
        assert (
            "calculate-derived-metrics: blocking check(s) failed on the staged output, not"
            f" published: {D1}, {D2}: "
        ) in event_log
        assert "resilience_scores:row_count (rows=0, allowed_rows_per_day=" in event_log
        after = {
            str(p.relative_to(lake)): p.read_bytes()
            for root in (curated, exports)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        assert after == before
        assert _warehouse_rows(state, "resilience_scores", D1) == rows_before
