"""Crash recovery on the Dagster side: a killed embedded PostgreSQL, killed runs and the staging
folders they leave behind. The next start or run recovers without anyone cleaning up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import date

import dagster as dg
import psutil
import pytest
from climate_glue.lake import LocalLake

from climate_assets.constants import LOCATIONS
from climate_assets.resources.embedded_postgres import stop_embedded_server
from climate_assets.resources.warehouse import LocalWarehouse
from climate_assets.steps.recovery import (
    HOST_TAG,
    PID_TAG,
    process_tags,
    reap_dead_runs,
    remove_stale_staging,
)
from climate_cli.generate import generate_landing_zone
from tests.support import materialize_days

START_AND_DIE = textwrap.dedent(
    """
    import os, sys
    from climate_assets.resources.embedded_postgres import embedded_server
    server = embedded_server(sys.argv[1])
    print(server.get_pid(), flush=True)
    sys.stdin.read()  # until the test kills it
    """
)


def _connect_count(pgdata) -> int:
    warehouse = LocalWarehouse(embedded_pgdata=str(pgdata))
    warehouse.setup_for_execution(dg.build_init_resource_context())
    with warehouse.connect() as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def test_a_sigkilled_embedded_server_starts_again(tmp_path, monkeypatch):
    monkeypatch.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
    pgdata = tmp_path / "pgdata"
    with subprocess.Popen(  # leaving the block closes its pipes
        [sys.executable, "-c", START_AND_DIE, str(pgdata)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as owner:
        postmaster = int(owner.stdout.readline())
        os.kill(postmaster, signal.SIGKILL)  # the server, then the process that started it
        owner.kill()
    psutil.wait_procs([psutil.Process(postmaster)], timeout=10)
    assert (pgdata / "postmaster.pid").exists()  # the stale lock is there
    try:
        assert _connect_count(pgdata) == 1
    finally:
        # pgserver's own stop at exit counts the killed owner among the server's users and
        # leaves the restarted server running after the test process ends.
        assert stop_embedded_server(pgdata)


def test_a_stale_lock_naming_a_reused_pid_is_recovered(tmp_path, monkeypatch):
    """After a restart the dead server's pid may belong to another program."""
    monkeypatch.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
    pgdata = tmp_path / "pgdata"
    assert _connect_count(pgdata) == 1  # initialised; the server stops when this process exits
    stale = (pgdata / "postmaster.pid").read_text().splitlines()
    # Kill the server as a crash would, then give its pid file to a live non-postgres process.
    os.kill(int(stale[0]), signal.SIGKILL)
    psutil.wait_procs([psutil.Process(int(stale[0]))], timeout=10)
    other = subprocess.Popen(["sleep", "60"])
    try:
        (pgdata / "postmaster.pid").write_text("\n".join([str(other.pid), *stale[1:]]) + "\n")
        assert _connect_count(pgdata) == 1
    finally:
        other.kill()
        other.wait()


def _add_run(instance, status: dg.DagsterRunStatus, tags: dict[str, str]) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="climate_graph", run_id=run_id, status=status, tags=tags)
    )
    return run_id


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_staging_of_runs_no_longer_running_is_removed(tmp_path):
    lake = LocalLake(tmp_path / "lake")
    with dg.instance_for_test() as instance:
        alive = _add_run(instance, dg.DagsterRunStatus.STARTED, process_tags())
        killed = _add_run(
            instance,
            dg.DagsterRunStatus.STARTED,
            {**process_tags(), PID_TAG: str(_dead_pid())},
        )
        finished = _add_run(instance, dg.DagsterRunStatus.FAILURE, {})
        elsewhere = _add_run(  # another host's run: only Dagster's run monitoring can tell
            instance, dg.DagsterRunStatus.STARTED, {HOST_TAG: "other-host", PID_TAG: "1"}
        )
        unknown = str(uuid.uuid4())
        for run_id in (alive, killed, finished, elsewhere, unknown):
            lake.write_text(f"_staging/{run_id}/processed/climate_data/part.parquet", "x")

        removed = remove_stale_staging(lake, instance, current_run_id=alive)
        assert sorted(removed) == sorted([killed, finished, unknown])
        assert sorted(lake.list_dirs("_staging")) == sorted([alive, elsewhere])

        assert reap_dead_runs(instance) == [killed]
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED


@pytest.mark.e2e
def test_the_next_run_removes_a_dead_runs_staging(tmp_path, monkeypatch):
    monkeypatch.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
    generate_landing_zone(tmp_path / "lake", locations=3, days=1, start=date(2024, 1, 15), seed=2)
    lake = LocalLake(tmp_path / "lake")
    with dg.instance_for_test() as instance:
        killed = _add_run(
            instance, dg.DagsterRunStatus.STARTED, {**process_tags(), PID_TAG: str(_dead_pid())}
        )
        lake.write_text(f"_staging/{killed}/processed/locations/part-0.parquet", "half written")
        result, event_log = materialize_days(
            tmp_path, "2024-01-15", "2024-01-15", [LOCATIONS], instance
        )
    assert result.success, event_log[-3000:]
    assert lake.list_dirs("_staging") == []
    assert f"removed staging folders of runs no longer running: ['{killed}']" in event_log
