"""The benchmark suite's runner and its DuckDB floor (no timings asserted: speed is the
suite's job, these tests check that it measures what it says)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bench import breakdown
from bench.floor_duckdb import run_floor
from climate_assets.generate import generate_landing_zone
from climate_assets.settings import PROJECT_ROOT

DAY = date(2024, 7, 1)


def _append(path: Path, rows: list[str]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(row + "\n" for row in rows)


def test_floor_applies_the_contracts_row_and_duplicate_rules(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generated = generate_landing_zone(lake, locations=4, days=1, start=DAY, seed=3)
    climate = lake / f"raw/climate/date={DAY}/climate.csv"
    first = climate.read_text().splitlines()[1]
    location = first.split(",")[0]
    _append(
        climate,
        [
            first,  # an identical duplicate: one of the two is kept
            f"99999,{DAY},30,20,0,50,2,40",  # unknown location
        ],
    )
    health = lake / f"raw/health/date={DAY}/health.csv"
    row = health.read_text().splitlines()[1].split(",")
    conflicting = [*row[:2], str(int(row[2]) + 1), *row[3:]]
    _append(health, [",".join(conflicting)])  # conflicts with the original: both rejected
    hospital = lake / f"raw/hospital/date={DAY}/hospital.csv"
    good = hospital.read_text().splitlines()[1].split(",")
    over = [good[0] + "9", *good[1:5], str(int(good[4]) + 1), *good[6:]]  # occupied > total
    _append(hospital, [",".join(over), f"X1,{location},Y,2024-07-02,1,0,0,0,true,false"])

    summary = run_floor(lake, tmp_path / "out", DAY, DAY)

    valid = summary["valid_rows"]
    assert valid["locations"] == 4
    assert valid["climate_data"] == generated.rows["climate"]
    assert valid["health_data"] == generated.rows["health"] - 1
    assert valid["hospital_data"] == generated.rows["hospital"]
    assert summary["curated_rows"] == {
        "health_risks": 3,
        "hospital_resources": 4,
        "resilience_scores": 3,
    }
    written = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.parquet")
    )
    assert written[0].startswith("curated/health_risks/year=2024/month=07/day=01/")
    assert len(written) == 3


@pytest.mark.e2e
def test_runner_quick_seed_end_to_end(tmp_path: Path) -> None:
    """One quick seed run: the pipeline through Dagster, the floor, their comparison, the
    per-step breakdown and the results files."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "seed", "--quick", "--repeat", "1",
         "--out", str(tmp_path), "--data-dir", str(tmp_path / "data")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next((tmp_path / "results").glob("*-quick.json")).read_text())
    seed = results["workloads"]["seed"]
    run = seed["runs"][0]
    assert run["success"] and run["peak_rss_bytes"] > 0
    glue_steps = {k: s for k, s in run["steps"].items() if s["glue_job_runs"]}
    assert set(glue_steps) == {
        "locations", "climate_data", "health_data", "hospital_data", "derived_metrics",
    }  # fmt: skip
    assert all(s["glue_job_runs"] == 1 and s["seconds"] > 0 for s in glue_steps.values())
    # Each job times its stages; its outputs run side by side, each part timed on its own.
    assert all(
        "seconds_outputs" in m["metadata"] and "busy_seconds_load_postgres" in m["metadata"]
        for s in glue_steps.values()
        for m in s["materializations"]
    )
    rows = {r["step"]: r for r in breakdown.steps(run)}
    assert all(rows[step]["postgres"] > 0 for step in glue_steps)
    assert rows["derived_metrics"]["exports"] > 0 and rows["derived_metrics"]["checks"] > 0
    comparison = seed["comparison"]
    assert set(comparison) == {"health_risks", "hospital_resources", "resilience_scores"}
    assert all(c["equal"] and c["pipeline_rows"] == 36 for c in comparison.values())
    report = (tmp_path / "RESULTS.md").read_text()
    assert "## Targets" in report and "seed batch end to end" in report
    assert "| derived_metrics |" in report
    assert not (tmp_path / "data" / "runs").exists() or not any(
        (tmp_path / "data" / "runs").iterdir()
    )


def _backfill_results(climate_job_runs: int, climate_end: str) -> dict:
    def step(asset, partition, metadata, job_runs=1):
        return {
            "glue_job_runs": job_runs, "start": 0.0, "end": 1.0, "offset": 0.0, "seconds": 1.0,
            "materializations": [{"asset": asset, "partition": partition, "metadata": metadata}],
        }  # fmt: skip

    steps = {
        "locations": step("locations", None, {}),
        "climate_data": step(
            "climate_data",
            "2023-01-01",
            {"partition_start": "2023-01-01", "partition_end": climate_end},
            climate_job_runs,
        ),
    }
    workload = {"start": "2023-01-01", "days": 6}
    return {
        "workloads": {
            "backfill": {"workload": workload, "runs": [{"exit_code": 0, "steps": steps}]}
        }
    }


@pytest.mark.parametrize(
    ("job_runs", "end", "status"),
    [(1, "2023-01-06", "met"), (2, "2023-01-06", "MISSED"), (1, "2023-01-03", "MISSED")],
)
def test_backfill_target_needs_one_job_per_step_over_the_whole_range(job_runs, end, status):
    from bench.targets import evaluate

    (target,) = evaluate(_backfill_results(job_runs, end))
    assert target["status"] == status


def test_concurrent_stage_is_shared_out_by_each_parts_own_seconds() -> None:
    """4 s of side-by-side outputs whose parts were busy 3 s (Parquet) and 1 s (PostgreSQL)
    count as 3 s and 1 s; the sequential stages stay as they were."""
    meta = {
        "seconds_read": 2.0,
        "seconds_outputs": 4.0,
        "busy_seconds_write_lake": 4.5,
        "busy_seconds_load_postgres": 1.5,
    }
    assert breakdown.job_stages(meta) == {"read": 2.0, "write_lake": 3.0, "load_postgres": 1.0}
    assert breakdown.job_stages({"seconds_read": 2.0, "seconds_write_lake": 1.0}) == {
        "read": 2.0,
        "write_lake": 1.0,
    }


def test_a_range_runs_identical_materializations_are_stored_once_with_their_count() -> None:
    meta = {"partition_start": "2023-01-01", "partition_end": "2023-01-03", "rows": 30}
    days = [
        {"asset": "climate_data", "partition": f"2023-01-0{d}", "metadata": meta} for d in (1, 2, 3)
    ]
    other = {"asset": "health_data", "partition": "2023-01-01", "metadata": {"rows": 5}}
    stored = breakdown.compact([*days, other])
    assert [(m["asset"], m["count"], m["partition"], m["last_partition"]) for m in stored] == [
        ("climate_data", 3, "2023-01-01", "2023-01-03"),
        ("health_data", 1, "2023-01-01", "2023-01-01"),
    ]
    run = {"steps": {"s": {"glue_job_runs": 1, "seconds": 1.0, "materializations": stored}}}
    assert breakdown.steps(run)[0]["materializations"] == 4
