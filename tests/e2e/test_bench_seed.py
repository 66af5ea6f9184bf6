"""The benchmark suite run as a user runs it (``python -m bench seed --quick``): its runner, the
two floors and each engine's comparison with them, end to end (no timings asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import breakdown
from climate_assets.settings import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.spark]


def test_runner_quick_seed_end_to_end(tmp_path: Path) -> None:
    """One quick seed run on each engine: the pipeline through Dagster, the two floors, each
    engine's comparison with them, the per-step breakdown and the results files."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "seed", "--quick", "--repeat", "1",
         "--out", str(tmp_path), "--data-dir", str(tmp_path / "data")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next((tmp_path / "results").glob("*-quick.json")).read_text())
    seed = results["workloads"]["seed"]
    assert list(seed["engines"]) == ["duckdb", "spark"]
    for engine, part in seed["engines"].items():
        run = part["runs"][0]
        assert run["success"] and run["peak_rss_bytes"] > 0
        assert run["engine"] == engine and run["engines_reported"] == [engine]
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
        comparison = part["comparison"]
        assert set(comparison) == {"health_risks", "hospital_resources", "resilience_scores"}
        assert all(c["equal"] and c["pipeline_rows"] == 36 for c in comparison.values())
        # No JVM on DuckDB: the CPU split names only the processes there were.
        assert ("spark jvm" in run["cpu_by_kind"]) == (engine == "spark")
    assert seed["floor_summary"]["wall_seconds"]["n"] == 1
    assert seed["full_floor_summary"]["wall_seconds"]["n"] == 1
    assert seed["full_floor_runs"][0]["postgres_rows"]["resilience_scores"] == 36
    # Each engine's every output, PostgreSQL included, is the full-output floor's.
    assert all(part["full_comparison"]["equal"] for part in seed["engines"].values())
    report = (tmp_path / "RESULTS.md").read_text()
    assert "## Targets" in report and "seed batch vs full-output floor" in report
    assert "### seed on the duckdb engine" in report and "### seed on the spark engine" in report
    assert "| derived_metrics |" in report
    assert not (tmp_path / "data" / "runs").exists() or not any(
        (tmp_path / "data" / "runs").iterdir()
    )
