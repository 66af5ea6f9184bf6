"""``climate-assets status`` against the project's instance after real runs of the real assets.

One module-scoped state (3 locations x 3 days ending yesterday, so the days fall in the status
window) with four runs, each made by the product's in-process execution:
- the whole graph for the first two days: succeeds;
- climate_data for the third day with a row breaking a value range: the job loads, rejects the
  row, and the blocking ``reject_rate`` check fails (the day is held back);
- health_data for the third day from a file with ``;`` delimiters: the job quarantines the file
  and fails (the day's partition is failed);
- hospital_data and its Athena table for the third day, with ``status`` read while it runs (the
  Athena step waits on the hospital step).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from climate_assets.constants import (
    CLIMATE_DATA,
    HEALTH_DATA,
    HOSPITAL_DATA,
    athena_table_key,
)
from climate_assets.instance import instance_environment
from climate_assets.job_specs import PROCESS_HOSPITAL
from climate_assets.resources.warehouse import LocalWarehouse
from climate_assets.settings import Settings
from climate_assets.steps.lease import lease
from climate_cli.cli import main
from climate_cli.demo import run_whole_graph
from climate_cli.generate import generate_landing_zone
from climate_cli.status import render, status

pytestmark = pytest.mark.e2e

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
DAYS = [YESTERDAY - timedelta(days=2), YESTERDAY - timedelta(days=1), YESTERDAY]
JOBS = [
    "process-locations",
    "process-climate-data",
    "process-health-data",
    "process-hospital-data",
    "calculate-derived-metrics",
]

# The shape of ``status --json``: key -> type (a dict is a nested schema, a list the schema of
# its items; a tuple of types means any of them).
NUM = (int, float)
OPT_NUM = (int, float, type(None))
OPT_STR = (str, type(None))
OPT_INT = (int, type(None))
JOB_RUN = {
    "run_id": str,
    "state": str,
    "when": NUM,
    "seconds": OPT_NUM,
    "rows_read": OPT_INT,
    "rows_loaded": OPT_INT,
    "rows_rejected": OPT_INT,
    "glue_run_id": OPT_STR,
    "dpu_seconds": OPT_NUM,
    "cost_usd": OPT_NUM,
    "partitions": OPT_STR,
}
WINDOW = {
    "runs": int,
    "succeeded": int,
    "failed": int,
    "success_rate": OPT_NUM,
    "median_seconds": OPT_NUM,
    "worst_seconds": OPT_NUM,
    "rows_loaded": int,
    "rows_rejected": int,
    "cost_usd": OPT_NUM,
}
STATUS_SCHEMA = {
    "generated_at": NUM,
    "days": int,
    "jobs": [
        {
            "job": str,
            "assets": [str],
            "last_run": (JOB_RUN, type(None)),
            "windows": {"24h": WINDOW, "7d": WINDOW},
            "trend": str,
            "trend_seconds": [OPT_NUM],
        }
    ],
    "active": [
        {
            "run_id": str,
            "status": str,
            "job": str,
            "assets": [str],
            "partitions": OPT_STR,
            "created": NUM,
            "steps": [{"key": str, "state": str, "waits_on": [str]}],
        }
    ],
    "partitions": dict,
    "alarms": [{"kind": str, "message": str, "action": str}],
}
PROBLEM = {"day": str, "problem": str, "check": OPT_STR}


def validate(value, schema, where="$"):
    """Fail naming the path of the first value that does not fit ``schema``."""
    if isinstance(schema, tuple) and any(isinstance(s, dict) for s in schema):
        if value is None and type(None) in schema:
            return
        schema = next(s for s in schema if isinstance(s, dict))
    if isinstance(schema, dict):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        assert set(value) == set(schema), f"{where}: keys {sorted(value)} != {sorted(schema)}"
        for key, sub in schema.items():
            validate(value[key], sub, f"{where}.{key}")
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where}: expected a list, got {value!r}"
        for i, item in enumerate(value):
            validate(item, schema[0], f"{where}[{i}]")
    else:
        ok = isinstance(value, schema) and not (isinstance(value, bool) and schema is not bool)
        assert ok, f"{where}: {value!r} is not {schema}"


def _break_files(lake_root) -> None:
    climate = next((lake_root / f"raw/climate/date={DAYS[2]}").glob("*.csv"))
    with climate.open("a") as out:  # a temperature far outside the contract's range
        out.write(
            f"{climate.read_text().splitlines()[1].split(',')[0]},{DAYS[2]},95.0,10.0,0,50,1,20\n"
        )
    health = next((lake_root / f"raw/health/date={DAYS[2]}").glob("*.csv"))
    health.write_text(health.read_text().replace(",", ";"))


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    root = tmp_path_factory.mktemp("status")
    env = {
        "CLIMATE_STATE_DIR": str(root / "state"),
        "CLIMATE_SPARK_MASTER": "local[2]",
        "CLIMATE_SPARK_DRIVER_MEMORY": "1g",
        **instance_environment(),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ("CLIMATE_WAREHOUSE_URL", "CLIMATE_LAKE_ROOT", "CLIMATE_ENV"):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        settings = Settings.from_env()
        generate_landing_zone(settings.lake_root, locations=3, days=3, start=DAYS[0], seed=3)
        _break_files(settings.lake_root)
        quiet = lambda line: None  # noqa: E731
        with dg.DagsterInstance.get() as instance:
            ok = run_whole_graph(settings, instance, DAYS[0], DAYS[1], echo=quiet)
            assert ok.success, ok.errors
            blocked = run_whole_graph(
                settings, instance, DAYS[2], DAYS[2], echo=quiet, asset_selection=[CLIMATE_DATA]
            )
            assert not blocked.success and "reject_rate" in " ".join(blocked.errors)
            failed = run_whole_graph(
                settings, instance, DAYS[2], DAYS[2], echo=quiet, asset_selection=[HEALTH_DATA]
            )
            assert not failed.success

            # A real run in progress: status is read while it runs.
            selection = [HOSPITAL_DATA, athena_table_key(HOSPITAL_DATA)]
            outcome = {}
            worker = threading.Thread(
                target=lambda: outcome.update(
                    run=run_whole_graph(
                        settings, instance, DAYS[2], DAYS[2], echo=quiet, asset_selection=selection
                    )
                )
            )
            # Another holder of the hospital job's write lease keeps the run in its hospital
            # step (a DuckDB job alone would be over before status could look).
            dsn = LocalWarehouse(embedded_pgdata=str(settings.pgdata)).dsn()
            with lease(dsn, PROCESS_HOSPITAL.name, "test-holder", timeout_seconds=10):
                worker.start()
                deadline = time.monotonic() + 300
                running = None
                while worker.is_alive() and time.monotonic() < deadline:
                    report = status(instance, settings, days=14)
                    if any(r.status == "STARTED" and r.steps for r in report.active):
                        running = report
                        break
                    time.sleep(0.5)
            worker.join()
            assert outcome["run"].success, outcome["run"].errors
            after = status(instance, settings, days=14)
            yield {
                "settings": settings,
                "instance": instance,
                "running": running,
                "after": after,
                "runs": {
                    "ok": ok,
                    "blocked": blocked,
                    "failed": failed,
                    "hospital": outcome["run"],
                },
            }


def test_last_run_of_every_job(state):
    report, runs = state["after"], state["runs"]
    jobs = {j.job: j for j in report.jobs}
    assert list(jobs) == JOBS
    for name in JOBS:
        assert jobs[name].last_run is not None, name
    assert jobs["process-locations"].last_run.run_id == runs["ok"].run_id
    assert jobs["calculate-derived-metrics"].last_run.run_id == runs["ok"].run_id
    derived = jobs["calculate-derived-metrics"].last_run
    assert derived.rows_loaded == 3 * 2  # health_risks: 3 locations x 2 days
    assert derived.glue_run_id  # the local Glue client's run id
    climate = jobs["process-climate-data"].last_run
    assert (
        climate.run_id == runs["blocked"].run_id and climate.state == "succeeded (run failed later)"
    )
    assert (climate.rows_loaded, climate.rows_rejected, climate.rows_read) == (3, 1, 4)
    assert climate.partitions == DAYS[2].isoformat()
    health = jobs["process-health-data"].last_run
    assert health.run_id == runs["failed"].run_id and health.state == "failed"
    assert health.seconds is not None
    assert jobs["process-hospital-data"].last_run.run_id == runs["hospital"].run_id


def test_windows_and_trend(state):
    jobs = {j.job: j for j in state["after"].jobs}
    health = jobs["process-health-data"]
    for window in ("24h", "7d"):
        stats = health.windows[window]
        assert (stats.runs, stats.succeeded, stats.failed) == (2, 1, 1)
        assert stats.success_rate == 0.5
        assert stats.median_seconds <= stats.worst_seconds
        assert stats.rows_loaded == 3 * 2
        assert stats.cost_usd is None  # local: no DPU cost
    assert len(health.trend) == 2 and health.trend[-1] == "×" and health.trend[0] in "▁▂▃▄▅▆▇█"
    climate = jobs["process-climate-data"].windows["7d"]
    assert (climate.runs, climate.rows_loaded, climate.rows_rejected) == (2, 3 * 3, 1)


def test_running_run_and_waiting_steps(state):
    running = state["running"]
    assert running is not None, "status never saw the hospital run in progress"
    run = next(r for r in running.active if r.run_id == state["runs"]["hospital"].run_id)
    assert run.partitions == DAYS[2].isoformat()
    steps = {s.key: s for s in run.steps}
    assert {"hospital_data", "athena_tables"} <= set(steps)
    assert steps["hospital_data"].state == "running"
    assert steps["athena_tables"].state == "waiting"
    assert steps["athena_tables"].waits_on == ["hospital_data"]
    assert state["after"].active == []


def test_partition_problems(state):
    partitions = state["after"].partitions
    window = [d.isoformat() for d in DAYS]
    climate = {p.day: p for p in partitions["climate_data"] if p.day in window}
    assert list(climate) == [window[2]]
    assert (climate[window[2]].problem, climate[window[2]].check) == ("held back", "reject_rate")
    health = {p.day: p.problem for p in partitions["health_data"] if p.day in window}
    assert health == {window[2]: "failed"}
    assert not [p for p in partitions["hospital_data"] if p.day in window]
    risks = {p.day: p.problem for p in partitions["health_risks"] if p.day in window}
    assert risks == {window[2]: "missing"}
    older = (DAYS[0] - timedelta(days=1)).isoformat()
    assert {p.day: p.problem for p in partitions["health_risks"]}[older] == "missing"


def test_alarms(state):
    alarms = state["after"].alarms
    kinds = [a.kind for a in alarms]
    failed = [a for a in alarms if a.kind == "failed run"]
    failed_ids = {r.run_id for r in (state["runs"]["blocked"], state["runs"]["failed"])}
    assert {a.message.split()[1] for a in failed} == failed_ids
    assert all("climate-assets materialize --select" in a.action for a in failed)
    quarantine = next(a for a in alarms if a.kind == "quarantine")
    assert quarantine.message.startswith("1 file(s) in quarantine/")
    assert f"raw/health/date={DAYS[2]}" in quarantine.message
    reject = next(a for a in alarms if a.kind == "reject rate")
    assert "process-climate-data: 1 of 4 rows rejected" in reject.message
    assert "daemon" in kinds  # no daemon in this test
    assert "stopped" not in kinds  # every sensor and the schedule run by default
    for alarm in alarms:
        assert alarm.action


def test_render_shows_every_section(state):
    text = render(state["after"])
    for heading in (
        "Glue jobs",
        "Running or queued now",
        "Partitions of the last 14 days that need attention",
        "Alarms",
    ):
        assert heading in text
    for job in JOBS:
        assert f"  {job}  (" in text
    assert "held back (check reject_rate)" in text
    assert "[quarantine]" in text and "do: " in text


def test_status_json_through_the_cli(state, capsys):
    assert main(["status", "--json", "--days", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    validate(report, STATUS_SCHEMA)
    assert report["days"] == 5
    for asset, problems in report["partitions"].items():
        assert isinstance(asset, str)
        validate(problems, [PROBLEM], f"$.partitions.{asset}")
    assert [j["job"] for j in report["jobs"]] == JOBS
    assert main(["status"]) == 0
    assert "Glue jobs" in capsys.readouterr().out


def test_status_over_2000_runs_reads_them_all(state):
    """2,000 more runs of the whole-graph job, each with its climate_data materialization (the
    real run's record and event, copied under new run ids), then one full status. How long it
    takes is the benchmark's (`python -m bench status`, target under 10 s on a quiet machine),
    not a timed test: on a shared machine a time limit says more about the load than the code."""
    instance: dg.DagsterInstance = state["instance"]
    source = instance.get_run_by_id(state["runs"]["ok"].run_id)
    event = (
        instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=CLIMATE_DATA), limit=1)
        .records[0]
        .event_log_entry
    )
    started = time.perf_counter()
    events = []
    for i in range(2000):
        run_id = str(uuid.uuid4())
        run = source.with_status(
            dg.DagsterRunStatus.SUCCESS if i % 10 else dg.DagsterRunStatus.FAILURE
        )._replace(run_id=run_id)
        instance.add_run(run)
        events.append(event._replace(run_id=run_id, timestamp=time.time() - i * 60))
    for i in range(0, len(events), 250):  # the storage's batch insert (one statement each)
        instance.event_log_storage.store_event_batch(events[i : i + 250])
    made = time.perf_counter() - started
    began = time.perf_counter()
    report = status(instance, state["settings"], days=14)
    took = time.perf_counter() - began
    print(
        f"\nstatus over {len(instance.get_run_ids(limit=5000))} runs: {took:.2f}s (made in {made:.0f}s)"
    )
    climate = next(j for j in report.jobs if j.job == "process-climate-data")
    assert climate.windows["7d"].runs >= 2000
    assert len(climate.trend) == 30


def test_numbers_are_numeric_metadata_the_ui_plots(state):
    """Rows, rejects (also per rule), seconds per stage: numbers, so asset pages plot them."""
    instance: dg.DagsterInstance = state["instance"]
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CLIMATE_DATA, asset_partitions=[DAYS[2].isoformat()]),
        limit=1,
    ).records[0]
    metadata = record.asset_materialization.metadata
    numeric = (dg.IntMetadataValue, dg.FloatMetadataValue)
    for key in ("rows", "rows_rejected", "glue_execution_seconds"):
        assert isinstance(metadata[key], numeric), (key, metadata[key])
    stages = [k for k in metadata if k.startswith("seconds_")]
    assert stages and all(isinstance(metadata[k], numeric) for k in stages)
    per_rule = {k: v.value for k, v in metadata.items() if k.startswith("rows_rejected_")}
    assert sum(per_rule.values()) == 1, per_rule
    assert all(isinstance(metadata[k], dg.IntMetadataValue) for k in per_rule)
