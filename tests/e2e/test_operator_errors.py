"""What an operator sees when a step fails: the job's own message in one line (the CLI, status,
alerts), and no stack trace for the expected outcomes (a held-back day, a quarantined file)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from climate_assets.constants import LOCATIONS
from climate_assets.defs.automation.alerts import FAILURE_SENSOR, LogAlerts, run_failure_alerts
from climate_cli.generate import generate_landing_zone
from tests.support import materialize_days, run_cli

pytestmark = pytest.mark.e2e

D1, D2 = "2024-07-01", "2024-07-02"
NO_TRACES = ("Traceback", "Stack Trace", "STEP_FAILURE", "RUN_FAILURE", "dagster._core", "\tat ")


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
    assert held.returncode == 1  # data held back, not "could not run"
    assert "  climate_data: held back by blocking check(s) climate_data: reject_rate" in held.stdout
    _no_traces(held)

    quarantined = _materialize(env, "climate_data", D2)
    assert quarantined.returncode == 1
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
        with caplog.at_level(logging.ERROR, logger="climate_assets.defs.automation.alerts"):
            run_failure_alerts(context)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name == "climate_assets.defs.automation.alerts"
    )
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


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_a_full_lake_disk_is_named_in_materialize_and_status(tmp_path, small_disk, engine):
    state, lake = tmp_path / "state", small_disk / "lake"
    generate_landing_zone(lake, locations=3, days=1, start=date(2024, 7, 1), seed=9)
    env = {**_env(state, lake), "CLIMATE_ENGINE": engine}
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
    assert full.returncode == 3  # could not run
    assert f"  {line}" in full.stdout, full.stdout + full.stderr
    _no_traces(full)
    status = run_cli(env, "status")
    assert f"failed: {line}" in status.stdout, status.stdout


# --------------------------------------------------------------------------- could not run


def _one_line(done: subprocess.CompletedProcess, command: str) -> str:
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"climate-assets {command}: "), lines[0]
    _no_traces(done)
    return lines[0]


@pytest.mark.parametrize("command", ["demo", "status", "materialize", "check", "dev"])
def test_unreachable_postgres_is_one_line_naming_host_port_and_setting(tmp_path, command):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = _env(tmp_path / "state")
    env["CLIMATE_WAREHOUSE_URL"] = f"postgresql://postgres@127.0.0.1:{port}/operator_none"
    env["CLIMATE_RETRY_MAX"] = "0"
    args = {"check": ["check", "--state-dir", str(tmp_path / "check")]}.get(command, [command])
    done = run_cli(env, *args, timeout=300)
    if command == "check":  # an ephemeral instance: the run starts, its first step cannot
        assert done.returncode == 3, done.stdout + done.stderr
        assert (
            f'STEP FAILED  locations: OperationalError: connection failed: connection to server at "127.0.0.1", port {port} failed: Connection refused'
            in done.stdout
        )
        _no_traces(done)
        return
    line = _one_line(done, command)
    assert (
        f"PostgreSQL at 127.0.0.1:{port} (database operator_none, set by CLIMATE_WAREHOUSE_URL)"
        in line
    )
    assert "Connection refused" in line and "start the server" in line

    debug = run_cli({**env, "CLIMATE_DEBUG": "1"}, *args, timeout=300)
    assert "Traceback" in debug.stderr


def test_a_read_only_lake_is_one_line_in_upload_generate_and_export(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        env = _env(tmp_path / "state", mount / "lake")
        source = tmp_path / "climate.csv"
        source.write_text(
            f"location_id,date,temp_max_c,temp_min_c,precipitation_mm\nL1,{D1},3,1,0\n"
        )
        expected = f"{mount}/lake is not writable (Read-only file system): fix its permissions"
        for args in (
            ["upload", str(source), "--dataset", "climate"],
            ["generate", "--days", "1", "--locations", "2"],
        ):
            assert expected in _one_line(run_cli(env, *args, timeout=300), args[0])
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_aws_credentials_and_bucket_missing_are_one_line(tmp_path):
    from tests.aws_support import moto_server

    source = tmp_path / "climate.csv"
    source.write_text(f"location_id,date,temp_max_c,temp_min_c,precipitation_mm\nL1,{D1},3,1,0\n")
    env = _env(tmp_path / "state")
    env.update(
        CLIMATE_ENV="aws",
        AWS_REGION="us-east-1",
        CLIMATE_LAKE_BUCKET="operator-no-such-bucket",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    upload = ["upload", str(source), "--dataset", "climate"]
    line = _one_line(run_cli(env, *upload, timeout=300), "upload")
    assert "AWS credentials or region not found (Unable to locate credentials)" in line

    with moto_server():
        moto_env = {**env, **{k: os.environ[k] for k in os.environ if k.startswith("AWS_")}}
        moto_env.pop("AWS_SHARED_CREDENTIALS_FILE", None)
        line = _one_line(run_cli(moto_env, *upload, timeout=300), "upload")
    assert "S3 bucket operator-no-such-bucket does not exist" in line
    assert "CLIMATE_LAKE_BUCKET" in line
