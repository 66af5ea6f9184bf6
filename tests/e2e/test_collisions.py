"""Runs never collide: two runs of the same day, started together, never write at once.

The lease alone (no pool configured): the second run waits for the first and, past its timeout,
fails naming the run that holds the lease. With the project's pools (``dagster.yaml``: one step
per pool at a time) both runs succeed one after the other, also with the in-process executor
and from two processes. Each run is its own process, as two ``climate-assets demo``s would be,
on one lake and one embedded PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date

import dagster as dg
import psycopg
import pytest
from climate_glue.warehouse import EMBEDDED_DATABASE

from climate_assets.resources.embedded_postgres import embedded_server
from climate_assets.resources.warehouse import ensure_database
from climate_assets.steps.lease import LeaseHeldError, lease
from climate_cli.generate import generate_landing_zone

pytestmark = pytest.mark.e2e

DAY = "2024-01-15"

ONE_RUN = textwrap.dedent(
    """
    import json, sys
    import dagster as dg
    from climate_assets.constants import CLIMATE_DATA, LOCATIONS
    from tests.support import materialize_days

    instance = dg.DagsterInstance.get()  # DAGSTER_HOME: shared by both processes
    result, log = materialize_days(sys.argv[1], sys.argv[2], sys.argv[2], [LOCATIONS, CLIMATE_DATA], instance)
    errors = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            errors.append(error.message.strip())
            error = error.cause
    print(json.dumps({"run_id": result.run_id, "success": result.success, "errors": errors}))
    """
)


@pytest.fixture
def server(tmp_path):
    pg = embedded_server(str(tmp_path / "pgdata"))
    ensure_database(pg.get_uri("postgres"), EMBEDDED_DATABASE)
    return pg.get_uri(EMBEDDED_DATABASE)


def test_a_second_holder_waits_then_fails_naming_the_first(server):
    released = threading.Event()

    def first() -> None:
        with lease(server, "process-climate-data", "run-A", timeout_seconds=5):
            time.sleep(2)
        released.set()

    holder = threading.Thread(target=first)
    holder.start()
    time.sleep(0.5)
    with (
        pytest.raises(LeaseHeldError, match="run run-A is writing process-climate-data"),
        lease(server, "process-climate-data", "run-B", timeout_seconds=0.5, poll_seconds=0.1),
    ):
        pass
    started = time.monotonic()
    with lease(server, "process-climate-data", "run-C", timeout_seconds=10, poll_seconds=0.1):
        assert released.is_set()  # it waited for run-A to let go
    assert time.monotonic() - started < 5
    holder.join()
    with lease(server, "process-health-data", "run-D", timeout_seconds=0):
        pass  # another asset's lease is free meanwhile


def _two_runs_at_once(tmp_path, home, extra_env=None) -> list[dict]:
    dg.DagsterInstance.from_config(str(home)).dispose()  # its storage exists before both start
    env = {**os.environ, "DAGSTER_HOME": str(home), **(extra_env or {})}
    env.pop("CLIMATE_WAREHOUSE_URL", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ONE_RUN, str(tmp_path), DAY],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    return outcomes


def _run_ids_of_the_day(tmp_path) -> set[str]:
    import pgserver

    uri = pgserver.get_server(tmp_path / "pgdata").get_uri(EMBEDDED_DATABASE)
    with psycopg.connect(uri) as conn:
        return {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT _run_id FROM climate_health.climate_data WHERE date = %s", (DAY,)
            )
        }


@pytest.fixture
def landing(tmp_path):
    generate_landing_zone(tmp_path / "lake", locations=3, days=1, start=date(2024, 1, 15), seed=4)
    return tmp_path


def test_two_runs_of_the_same_day_without_pools_wait_or_fail_naming_the_other(landing):
    """Without pools only the lease keeps them apart: the second run waits for the first
    (a DuckDB job holds it for well under a second) or, past the 1 s timeout, fails naming the
    holder; either way the day's rows come from one run."""
    home = landing / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    outcomes = _two_runs_at_once(landing, home, {"CLIMATE_LEASE_TIMEOUT_SECONDS": "1"})
    won = [o for o in outcomes if o["success"]]
    assert won, outcomes
    for failed in (o for o in outcomes if not o["success"]):
        [other] = [o for o in outcomes if o is not failed]
        assert any(f"run {other['run_id']} is writing process-" in e for e in failed["errors"]), (
            failed
        )
    assert len(_run_ids_of_the_day(landing)) == 1
    assert _run_ids_of_the_day(landing) <= {o["run_id"] for o in won}


def test_two_runs_of_the_same_day_with_pools_run_one_after_the_other(landing):
    home = landing / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "concurrency:\n  pools:\n    granularity: op\n    default_limit: 1\n"
    )
    outcomes = _two_runs_at_once(landing, home)
    assert all(o["success"] for o in outcomes), outcomes
    instance = dg.DagsterInstance.from_config(str(home))
    windows = []
    for outcome in outcomes:
        records = instance.get_records_for_run(outcome["run_id"]).records
        times = {
            (r.event_log_entry.step_key, r.event_log_entry.dagster_event_type.value): (
                r.event_log_entry.timestamp
            )
            for r in records
            if r.event_log_entry.dagster_event_type is not None
        }
        step = ("climate_data", "STEP_START"), ("climate_data", "STEP_SUCCESS")
        windows.append((times[step[0]], times[step[1]], outcome["run_id"]))
    (_, first_end, _), (second_start, _, last_run) = sorted(windows)
    assert first_end <= second_start, "the two runs wrote climate_data at the same time"
    assert _run_ids_of_the_day(landing) == {last_run}  # the day is from one run: the later
