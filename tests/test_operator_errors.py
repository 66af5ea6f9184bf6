"""What an operator sees when a step fails: the job's own message in one line (the CLI, status,
alerts), and no stack trace for the expected outcomes (a held-back day, a quarantined file)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from climate_assets.alerts import FAILURE_SENSOR, LogAlerts, run_failure_alerts
from climate_assets.commands.generate import generate_landing_zone
from climate_assets.constants import LOCATIONS
from tests.support import materialize_days, run_cli

pytestmark = pytest.mark.e2e

D1, D2 = "2024-07-01", "2024-07-02"
NO_TRACES = ("Traceback", "Stack Trace", "STEP_FAILURE", "RUN_FAILURE", "dagster._core")


def _env(state: Path, lake: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIMATE_")}
    env["CLIMATE_STATE_DIR"] = str(state)
    if lake is not None:
        env["CLIMATE_LAKE_ROOT"] = str(lake)
    return env


def _materialize(env: dict[str, str], select: str, day: str) -> subprocess.CompletedProcess:
    return run_cli(env, "materialize", "--in-process", "--select", select, "--from", day)


def _no_traces(done: subprocess.CompletedProcess) -> None:
    for marker in NO_TRACES:
        assert marker not in done.stdout + done.stderr, done.stdout + done.stderr


def test_held_day_and_quarantined_file_say_why_without_a_stack_trace(tmp_path):
    state = tmp_path / "state"
    lake = state / "lake"
    generate_landing_zone(lake, locations=3, days=2, start=date(2024, 7, 1), seed=9)
    with (lake / f"raw/climate/date={D1}/climate.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"99999,{D1},30.0,20.0,0.0,50,2.0,40\n")  # unknown location: 1 in 4 rejected
    (lake / f"raw/climate/date={D2}/zz.csv").write_bytes(b"\xef\xbb\xbf")  # only a BOM
    env = _env(state)

    held = _materialize(env, "locations,climate_data", D1)
    assert held.returncode != 0
    assert "  climate_data: held back by blocking check(s) climate_data: reject_rate" in held.stdout
    _no_traces(held)

    quarantined = _materialize(env, "climate_data", D2)
    assert quarantined.returncode != 0
    assert (
        f"  climate_data: quarantined: raw/climate/date={D2}/zz.csv: empty file (no header row)"
        in quarantined.stdout
    )
    _no_traces(quarantined)


def test_the_alert_names_the_jobs_own_message(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
    (tmp_path / "lake/raw/locations").mkdir(parents=True)
    (tmp_path / "lake/raw/locations/locations.csv").write_bytes(b"\xef\xbb\xbf")
    with dg.instance_for_test() as instance:
        result, _ = materialize_days(tmp_path, D1, D1, [LOCATIONS], instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert failure.step_failure_data.user_failure_data.description == (
            "quarantined: raw/locations/locations.csv: empty file (no header row)"
        )
        context = dg.build_run_status_sensor_context(
            sensor_name=FAILURE_SENSOR,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"alerts": LogAlerts()},
        ).for_run_failure()
        with caplog.at_level(logging.ERROR, logger="climate_assets.alerts"):
            run_failure_alerts(context)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "climate_assets.alerts")
    assert (
        "locations (data fault: quarantine (raw files that cannot be read as the contract says);"
        " not retried): quarantined: raw/locations/locations.csv: empty file (no header row)"
    ) in logged


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs for the lake (a real full disk); skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0 or shutil.which("umount") is None:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_lake_disk_is_named_in_materialize_and_status(tmp_path, small_disk):
    state, lake = tmp_path / "state", small_disk / "lake"
    generate_landing_zone(lake, locations=3, days=1, start=date(2024, 7, 1), seed=9)
    env = _env(state, lake)
    assert _materialize(env, "locations", D1).returncode == 0
    with (small_disk / "filler").open("wb") as filler:  # fill the disk to the last block
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass

    full = _materialize(env, "climate_data", D1)

    line = (
        f"climate_data: the lake's disk is full (No space left on device) while staging {D1};"
        " nothing was published; free space, then re-run"
    )
    assert full.returncode != 0
    assert f"  {line}" in full.stdout, full.stdout + full.stderr
    _no_traces(full)
    status = run_cli(env, "status")
    assert f"failed: {line}" in status.stdout, status.stdout
