"""``climate-assets export`` from a lake written by real runs: the first and third day of a
generated landing zone materialized in two runs, so the second day is missing."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date

import dagster as dg
import duckdb
import pytest
from climate_glue import contract

from climate_assets.settings import Settings
from climate_cli.cli import main
from climate_cli.demo import run_whole_graph
from climate_cli.export import ExportError, export
from climate_cli.generate import generate_landing_zone

pytestmark = pytest.mark.e2e

D1, D2, D3 = date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)


@pytest.fixture(scope="module")
def runs_without_day_2(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("CLIMATE_WAREHOUSE_URL", "CLIMATE_LAKE_ROOT", "CLIMATE_ENV"):
            patch.delenv(name, raising=False)
        patch.setenv("CLIMATE_STATE_DIR", str(root / "state"))
        patch.setenv("CLIMATE_SPARK_MASTER", "local[2]")
        patch.setenv("CLIMATE_SPARK_DRIVER_MEMORY", "1g")
        settings = Settings.from_env()
        generate_landing_zone(settings.lake_root, locations=3, days=3, start=D1, seed=11)
        with dg.instance_for_test() as instance:
            for day in (D1, D3):
                outcome = run_whole_graph(settings, instance, day, day, echo=lambda _: None)
                assert outcome.success, outcome.errors
        yield settings, root


def _truth(settings: Settings, day: date) -> list[tuple]:
    """health_risks as the job published it: (location_id, case_total, cases_per_100k)."""
    path = (
        settings.lake_root
        / f"curated/health_risks/year={day.year}/month={day.month:02d}/day={day.day:02d}"
    )
    return duckdb.sql(
        f"SELECT location_id, case_total, cases_per_100k FROM read_parquet('{path}/*.parquet') "
        "ORDER BY location_id"
    ).fetchall()


def test_small_counts_are_suppressed_unless_internal(runs_without_day_2, capsys):
    settings, root = runs_without_day_2
    truth = _truth(settings, D1)
    small = [row for row in truth if row[1] is not None and 1 <= row[1] <= 10]
    assert small, f"the fixture needs a case_total of 1..10: {truth}"
    out = root / "risks.csv"
    args = ["export", "health_risks", "--from", str(D1), "--to", str(D1), "--format", "csv"]
    assert main([*args, "-o", str(out)]) == 0
    assert f"{len(small)} row(s) with small counts suppressed" in capsys.readouterr().out
    with out.open() as f:
        rows = {r["location_id"]: r for r in csv.DictReader(f)}
    assert len(rows) == len(truth)
    for location, total, rate in truth:
        row = rows[location]
        if total is not None and 1 <= total <= 10:
            assert (row["case_total"], row["cases_per_100k"], row["suppressed"]) == ("", "", "true")
        else:
            assert int(row["case_total"]) == total and row["suppressed"] == "false"
            assert float(row["cases_per_100k"]) == pytest.approx(rate)

    internal = root / "risks.json"
    assert main([*args[:-1], "json", "-o", str(internal), "--internal"]) == 0
    records = {r["location_id"]: r for r in json.loads(internal.read_text())}
    assert {(k, r["case_total"]) for k, r in records.items()} == {(t[0], t[1]) for t in truth}


def test_processed_health_counts_never_leave_unsuppressed(runs_without_day_2, tmp_path):
    settings, _ = runs_without_day_2
    with pytest.raises(ExportError, match="may not be exported with true small counts"):
        export(settings, "health_data", D1, D1, "csv", tmp_path / "x.csv", internal=True)
    result = export(settings, "health_data", D1, D1, "parquet", tmp_path / "health.parquet")
    counts = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE respiratory_cases BETWEEN 1 AND 10), count(*) "
        f"FROM '{tmp_path / 'health.parquet'}'"
    ).fetchall()[0]
    assert counts == (0, result.rows) and result.rows == 3


def test_the_contracts_suppress_rule_is_all_an_export_needs(
    runs_without_day_2, tmp_path, monkeypatch
):
    """Privacy is a field of the contract (``suppress``): hospital_resources has no rule, so its
    export shows every count; give it one, and the same export suppresses by it."""
    settings, _ = runs_without_day_2
    day = f"year={D1.year}/month={D1.month:02d}/day={D1.day:02d}"
    truth = {
        r[0]: r[1:]
        for r in duckdb.sql(
            "SELECT location_id, hospital_count, beds_per_1k FROM read_parquet("
            f"'{settings.lake_root}/curated/hospital_resources/{day}/*.parquet')"
        ).fetchall()
    }
    small = {k for k, (count, _) in truth.items() if count is not None and 1 <= count <= 10}
    assert small, f"the fixture needs a hospital_count of 1..10: {truth}"

    def exported(name: str) -> dict[str, dict]:
        path = tmp_path / name
        export(settings, "hospital_resources", D1, D1, "json", path)
        return {r["location_id"]: r for r in json.loads(path.read_text())}

    assert all("suppressed" not in r for r in exported("before.json").values())
    rule = {"hospital_count": ("beds_per_1k",)}
    monkeypatch.setitem(
        contract.ASSETS,
        "hospital_resources",
        replace(contract.HOSPITAL_RESOURCES, suppress=rule),
    )
    after = exported("after.json")
    assert after.keys() == truth.keys()
    for location, (count, per_1k) in truth.items():
        row = after[location]
        shown = (row["hospital_count"], row["beds_per_1k"], row["suppressed"])
        if location in small:
            assert shown == (None, None, True)
        else:
            assert shown == (count, pytest.approx(per_1k), False)


def test_a_range_across_a_missing_day_names_it(runs_without_day_2, capsys):
    _, root = runs_without_day_2
    out = root / "range.csv"
    code = main(["export", "resilience_scores", "--from", str(D1), "--to", str(D3), "-o", str(out)])
    assert code == 1 and not out.exists()
    err = capsys.readouterr().err
    assert (
        "resilience_scores has no data for 1 day(s) of 2024-07-01 .. 2024-07-03: 2024-07-02" in err
    )


def test_a_range_without_data_is_refused(runs_without_day_2, capsys):
    _, root = runs_without_day_2
    code = main(
        [
            "export",
            "health_risks",
            "--from",
            "2024-08-01",
            "--to",
            "2024-08-05",
            "-o",
            str(root / "n.csv"),
        ]
    )
    assert code == 1
    assert "no data for health_risks from 2024-08-01 to 2024-08-05" in capsys.readouterr().err
