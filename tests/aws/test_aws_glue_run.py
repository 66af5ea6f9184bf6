"""The AWS code path end to end on moto (server mode, real boto3 calls).

The Glue jobs are deployed to moto by ``deploy``; the assets run through ``AwsGlueRunner``:
dagster-aws's ``PipesGlueClient`` with the S3 context injector and the S3 message reader on
moto, the driver log stream read from moto's CloudWatch Logs, and the warehouse reference
``secretsmanager:<id>`` (a moto secret pointing at the machine's PostgreSQL). moto's Glue does
not run scripts, so a stand-in Glue client (as dagster-aws tests its own Glue client) checks that
the job is deployed and runs the deployed script on local Spark. The lake stays a local folder,
since local Spark cannot read ``s3://``.

The outputs must equal those of the embedded default on the same input; the Glue metadata (run
id, console URL, DPU-seconds, cost) must arrive; the Athena tables must match the contract and
the Parquet Spark wrote; and no job argument, log line or event may show the secret's password.
"""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from climate_glue.contract import DERIVED, LINEAGE_COLUMNS, RAW_DATASETS
from psycopg import sql

from climate_assets.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from climate_assets.defs.athena.assets import table_specs
from climate_assets.defs.derived.assets import derived_metrics_asset
from climate_assets.defs.processed.assets import processed_assets
from climate_assets.job_specs import JOB_SPECS, PROCESS_HEALTH, PROCESS_HOSPITAL, PROCESS_LOCATIONS
from climate_assets.local_glue.glue_client import LocalGlueClient
from climate_assets.local_glue.spark import local_spark_session
from climate_assets.partitions import daily_partitions
from climate_assets.queries import named_queries
from climate_assets.resources.athena import DuckDBAthena, GlueCatalogAthena, TableSpec
from climate_assets.resources.glue import GlueJobRunner
from climate_assets.resources.glue_runs import run_tag
from climate_assets.resources.lake import LocalLakeResource
from climate_assets.resources.quality import QualityThresholds
from climate_assets.resources.warehouse import LocalWarehouse, SecretsManagerWarehouse
from climate_assets.settings import GLUE_SCRIPTS_DIR, AwsSettings
from climate_cli.cli import main
from climate_cli.deploy import DeployConfig, deploy
from climate_cli.generate import generate_landing_zone
from tests.aws.stand_in_glue import STAND_INS, StandInAwsGlueRunner, StandInGlue
from tests.aws_support import (
    LAKE_BUCKET,
    PIPES_BUCKET,
    REGION,
    SECRET_ID,
    client,
)
from tests.support import materialize_days

pytestmark = [pytest.mark.e2e, pytest.mark.external_postgres]

DAY = date(2024, 1, 15)
PASSWORD = "aws-path-pw-9d2b"  # trust auth ignores it; it must never be shown
IGNORED = set(LINEAGE_COLUMNS) - {"_source_file"}  # _run_id, _processed_at differ per run


@pytest.fixture(scope="module")
def deployed(aws_settings, external_database, tmp_path_factory):
    """moto with the project's settings, the RDS secret pointing at a database on the machine's
    PostgreSQL, and the deployed Glue jobs."""
    database = external_database("climate_aws")
    secret = {
        "engine": "postgres",
        "host": database["host"],
        "port": int(database.get("port") or 5432),
        "username": database.get("user") or "postgres",
        "password": PASSWORD,
        "dbname": database["dbname"],
        "sslmode": "disable",
    }
    client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=json.dumps(secret))
    config = DeployConfig.from_settings(AwsSettings.from_env(), ("climate_health",))
    policies = tmp_path_factory.mktemp("iam")
    deploy(config, policy_dir=policies)
    return {"database": database, "policies": policies}


@pytest.fixture(scope="module")
def two_landings(tmp_path_factory):
    """The same small landing zone in two lakes: one for each engine."""
    local, remote = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("aws")
    for state in (local, remote):
        generate_landing_zone(state / "lake", locations=3, days=1, start=DAY, seed=3)
    return local, remote


@pytest.fixture(scope="module")
def local_run(two_landings):
    local, _ = two_landings
    result, _ = materialize_days(local, DAY.isoformat(), DAY.isoformat())
    assert result.success
    return local


@pytest.fixture(scope="module")
def aws_run(deployed, two_landings, local_run):
    """Processed and derived assets through the AWS Glue runner, in one in-process run."""
    _, state = two_landings
    spark = LocalGlueClient(
        {name: GLUE_SCRIPTS_DIR / spec.script for name, spec in JOB_SPECS.items()},
        lambda: local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2),
    )
    stand_in = StandInGlue(spark)
    STAND_INS["run"] = stand_in
    daily = daily_partitions("2024-01-01")
    assets = [*processed_assets(daily), derived_metrics_asset(daily)]
    defs = dg.Definitions(
        assets=assets,
        jobs=[dg.define_asset_job("aws_graph")],
        resources={
            "lake": LocalLakeResource(root=str(state / "lake")),
            "warehouse": SecretsManagerWarehouse(secret_id=SECRET_ID),
            "glue": StandInAwsGlueRunner(
                region=REGION, pipes_bucket=PIPES_BUCKET, poll_interval_seconds=1, stand_in="run"
            ),
            "quality": QualityThresholds(),
        },
        executor=dg.in_process_executor,
    )
    stdout = io.StringIO()
    try:
        with dg.instance_for_test() as instance, contextlib.redirect_stdout(stdout):
            result = defs.resolve_job_def("aws_graph").execute_in_process(
                instance=instance,
                tags={
                    ASSET_PARTITION_RANGE_START_TAG: DAY.isoformat(),
                    ASSET_PARTITION_RANGE_END_TAG: DAY.isoformat(),
                },
                raise_on_error=False,
            )
            records = instance.get_records_for_run(result.run_id).records
            event_log = "\n".join(str(r.event_log_entry) for r in records)
            materializations = {}
            for event in result.get_asset_materialization_events():
                materialization = event.event_specific_data.materialization
                materializations[materialization.asset_key.to_user_string()] = {
                    key: value.value for key, value in materialization.metadata.items()
                }
    finally:
        spark.stop()
    return {
        "result": result,
        "state": state,
        "event_log": event_log,
        "stdout": stdout.getvalue(),
        "stand_in": stand_in,
        "materializations": materializations,
    }


def _lake_rows(lake: Path, prefix: str) -> list[tuple]:
    with duckdb.connect() as con:
        pattern = str(lake / prefix / "**" / "*.parquet")
        return con.execute(
            f"SELECT * EXCLUDE ({', '.join(sorted(IGNORED))}) FROM read_parquet('{pattern}',"
            " hive_partitioning = false) ORDER BY ALL"
        ).fetchall()


def _table_rows(conn: psycopg.Connection, table: str, columns: list[str]) -> list[tuple]:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    query = sql.SQL("SELECT {} FROM {}.{} ORDER BY {}").format(
        names, sql.Identifier("climate_health"), sql.Identifier(table), names
    )
    return conn.execute(query).fetchall()


OUTPUTS = {
    **{d.asset: (f"processed/{d.asset}", d.output_types) for d in RAW_DATASETS.values()},
    **{d.asset: (f"curated/{d.asset}", d.output_types) for d in DERIVED},
}


def test_the_aws_path_produces_what_the_local_engine_does(aws_run, local_run, deployed):
    assert aws_run["result"].success, aws_run["event_log"][-3000:]
    started = [job for job, _ in aws_run["stand_in"].started]
    assert sorted(started) == sorted(JOB_SPECS)  # every deployed job ran once
    local_lake, remote_lake = local_run / "lake", aws_run["state"] / "lake"
    local_pg = LocalWarehouse(embedded_pgdata=str(local_run / "pgdata"))
    with local_pg.connect() as local_conn, psycopg.connect(**deployed["database"]) as aws_conn:
        for asset, (prefix, types) in OUTPUTS.items():
            expected = _lake_rows(local_lake, prefix)
            assert expected, f"the local engine wrote no rows for {asset}"
            assert _lake_rows(remote_lake, prefix) == expected, asset
            columns = [c for c in types if c not in IGNORED]
            local_rows = _table_rows(local_conn, asset, columns)
            assert _table_rows(aws_conn, asset, columns) == local_rows, asset
            assert len(local_rows) == len(expected)


def test_glue_metadata_and_driver_logs_arrive(aws_run):
    meta = aws_run["materializations"]
    assert set(meta) >= {d.asset for d in RAW_DATASETS.values()} | {d.asset for d in DERIVED}
    for asset, values in meta.items():
        run_id = values["glue_job_run_id"]
        assert run_id.startswith("jr_"), asset
        assert values["glue_console_url"].endswith(f"/run/{run_id}")
        assert f"https://{REGION}.console.aws.amazon.com/" in values["glue_console_url"]
        assert values["glue_worker_type"] == "G.1X" and values["glue_workers"] == 2
        seconds = values["glue_execution_seconds"]
        assert values["glue_dpu_seconds"] == seconds * 2  # 2 workers x 1 DPU (G.1X)
        billed = max(seconds, 60) * 2
        assert values["glue_cost_usd"] == round(billed / 3600 * 0.44, 4)
        assert values["rows"] > 0  # reported by the job through S3 Pipes messages
    # the driver's output, streamed from CloudWatch Logs
    for script in (spec.script for spec in JOB_SPECS.values()):
        assert f"stand-in Glue driver: {script} finished SUCCEEDED" in aws_run["stdout"]


def test_the_password_is_in_no_argument_log_or_event(aws_run, deployed):
    for job, arguments in aws_run["stand_in"].started:
        assert arguments["--warehouse"] == f"secretsmanager:{SECRET_ID}", job
        assert PASSWORD not in json.dumps(arguments)
    assert PASSWORD not in aws_run["event_log"]
    assert PASSWORD not in aws_run["stdout"]
    assert all(PASSWORD not in p.read_text() for p in deployed["policies"].iterdir())
    jobs = client("glue").get_jobs()["Jobs"]
    assert PASSWORD not in json.dumps(jobs, default=str)


HIVE_OF_ARROW = {
    "string": "string",
    "large_string": "string",
    "double": "double",
    "int64": "bigint",
    "int32": "int",
    "date32[day]": "date",
    "bool": "boolean",
}


def _hive_type(arrow_type) -> str:
    text = str(arrow_type)
    return "timestamp" if text.startswith("timestamp") else HIVE_OF_ARROW[text]


def test_athena_tables_match_the_contract_and_the_parquet(aws_run):
    lake = aws_run["state"] / "lake"
    shared = TableSpec(
        "health_risks", "exports/json/health_risks", True, fmt="json", database="climate_shared"
    )
    specs = [*table_specs(), shared]
    athena = GlueCatalogAthena(
        region=REGION, results_location=f"s3://{PIPES_BUCKET}/athena-results/"
    )
    results = athena.create_tables(f"s3://{LAKE_BUCKET}/lake", specs)
    assert {r["catalog_action"] for r in results.values()} == {"created"}
    glue = client("glue")
    for spec in specs:
        table = glue.get_table(DatabaseName=spec.database, Name=spec.name)["Table"]
        sd = table["StorageDescriptor"]
        assert sd["Location"] == f"s3://{LAKE_BUCKET}/lake/{spec.prefix}/"
        columns = [(c["Name"], c["Type"]) for c in sd["Columns"]]
        if spec.fmt == "parquet":
            files = sorted((lake / spec.prefix).rglob("*.parquet"))
            schema = pq.read_schema(files[0])
            assert columns == [(f.name, _hive_type(f.type)) for f in schema], spec.name
            assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
        else:
            part = next(p for p in (lake / spec.prefix).rglob("part-*.json"))
            keys = json.loads(part.read_text().splitlines()[0]).keys()
            assert [name for name, _ in columns] == list(keys)
            assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
            assert ("suppressed", "boolean") in columns
        params = table["Parameters"]
        if spec.partitioned:
            assert [k["Name"] for k in table["PartitionKeys"]] == ["year", "month", "day"]
            assert params["projection.enabled"] == "true"
            assert params["projection.year.digits"] == "4"
            assert params["projection.month.range"] == "1,12"
            assert params["projection.day.digits"] == "2"
            assert params["storage.location.template"] == (
                f"s3://{LAKE_BUCKET}/lake/{spec.prefix}/year=${{year}}/month=${{month}}/day=${{day}}/"
            )
        else:
            assert table.get("PartitionKeys", []) == []
            assert "projection.enabled" not in params
    athena_client = client("athena")
    ids = athena_client.list_named_queries(WorkGroup="primary")["NamedQueryIds"]
    saved = {
        q["Name"]: q["QueryString"]
        for q in (athena_client.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)
    }
    assert saved == {name: query.sql for name, query in named_queries().items()}
    again = athena.create_tables(f"s3://{LAKE_BUCKET}/lake", specs)
    assert {r["catalog_action"] for r in again.values()} == {"unchanged"}
    assert set(again["locations"]["named_queries"]["raw_value"].values()) == {"unchanged"}
    assert len(athena_client.list_named_queries(WorkGroup="primary")["NamedQueryIds"]) == 3


def test_named_queries_run_locally_on_the_duckdb_views(aws_run, capsys, monkeypatch):
    state = aws_run["state"]
    DuckDBAthena(database_path=str(state / "athena.duckdb")).create_tables(
        str(state / "lake"), table_specs()
    )
    monkeypatch.setenv("CLIMATE_STATE_DIR", str(state))
    assert main(["query"]) == 0
    listed = capsys.readouterr().out
    for name in named_queries():
        assert name in listed
    assert main(["query", "resilience_by_category_over_time"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0].split("\t") == [
        "month",
        "resilience_category",
        "location_days",
        "locations",
        "avg_resilience_score",
    ]
    assert sum(int(line.split("\t")[2]) for line in lines[1:]) == 3  # 3 locations x 1 day
    assert main(["query", "heat_health_correlation_by_state"]) == 0
    assert capsys.readouterr().out.startswith("state\tlocation_days")
    assert main(["query", "hospitals_under_pressure"]) == 0
    assert main(["query", "no_such_query"]) == 2


def _run_glue_asset(stand_in: str, job_name: str, work: dict[str, str], instance=None):
    """Materialize one asset that runs ``job_name`` (arguments ``work`` and its run id) through
    ``AwsGlueRunner`` on the stand-in Glue client ``STAND_INS[stand_in]``."""

    @dg.asset
    def runs_a_glue_job(context: dg.AssetExecutionContext, glue: GlueJobRunner):
        arguments = {**work, "--run-id": context.run.run_id}
        return glue.run(context, job_name, arguments).get_materialize_result()

    runner = StandInAwsGlueRunner(
        region=REGION,
        pipes_bucket=PIPES_BUCKET,
        poll_interval_seconds=0.5,
        stream_driver_logs=False,
        stand_in=stand_in,
    )
    return dg.materialize(
        [runs_a_glue_job], resources={"glue": runner}, instance=instance, raise_on_error=False
    )


def test_cancelling_the_run_stops_the_glue_run(deployed):
    stand_in = StandInGlue(finishes=False)
    STAND_INS["cancel"] = stand_in
    result = _run_glue_asset("cancel", PROCESS_LOCATIONS.name, {})
    assert not result.success
    assert len(stand_in.started) == 1
    assert stand_in.stopped and len(stand_in.stopped) == 1
    assert stand_in.stopped[0].startswith("jr_")


def _wait_for(condition, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.5)
    return found


def test_a_killed_step_follows_its_glue_run_instead_of_starting_another(
    deployed, tmp_path, monkeypatch
):
    """The Dagster process is SIGKILLed while its Glue run is in flight; the step then runs
    again in a new run (as a re-execution or a run retry does): it follows the same Glue run to
    its end and takes its result. One Glue run, one publish, one materialization."""
    from tests.aws.glue_attach_driver import GO_FILE

    state, runs, home = tmp_path / "state", tmp_path / "glue-runs", tmp_path / "dagster-home"
    runs.mkdir()
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    generate_landing_zone(state / "lake", locations=3, days=1, start=DAY, seed=3)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    command = [sys.executable, "-m", "tests.aws.glue_attach_driver", "materialize"]
    command += [str(state), str(runs), SECRET_ID, PIPES_BUCKET]
    tag = run_tag(PROCESS_LOCATIONS.name)
    instance = dg.DagsterInstance.get()

    def tagged_runs() -> dict[str, str]:
        return {r.run_id: r.tags[tag] for r in instance.get_runs() if tag in r.tags}

    def start(name: str) -> subprocess.Popen:
        with open(tmp_path / f"{name}.log", "w") as log:
            return subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    first = start("first")
    try:
        # The Glue run id is recorded on the Dagster run as soon as the job has started.
        ((first_run, glue_run),) = _wait_for(tagged_runs, "the first run's Glue run tag").items()
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the Dagster process dies; its Glue run goes on
        first.wait()
    assert not (runs / f"{glue_run}.state.json").exists()  # still in flight

    second = start("second")
    try:
        followed = _wait_for(
            lambda: {k: v for k, v in tagged_runs().items() if k != first_run},
            "the second run's Glue run tag",
        )
        assert list(followed.values()) == [glue_run], (tmp_path / "second.log").read_text()
        (runs / GO_FILE).touch()  # now let the Glue run do its work
        assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
        (runs / GO_FILE).touch()
    ((second_run, _),) = followed.items()
    _assert_one_glue_run_and_one_publish(deployed, instance, runs, glue_run, first_run, second_run)


def _assert_one_glue_run_and_one_publish(deployed, instance, runs, glue_run, first_run, second_run):
    from tests.aws.glue_attach_driver import STARTED_FILE

    # One Glue run was started, and it is the one that was followed.
    assert (runs / STARTED_FILE).read_text().split() == [PROCESS_LOCATIONS.name, glue_run]
    listed = client("glue").get_job_runs(JobName=PROCESS_LOCATIONS.name)["JobRuns"]
    assert [r["Id"] for r in listed] == [glue_run]
    assert json.loads((runs / f"{glue_run}.state.json").read_text()) == {"state": "SUCCEEDED"}
    # One materialization, in the second Dagster run, with the first Glue run's result.
    events = instance.fetch_materializations(dg.AssetKey("locations"), limit=10).records
    assert [e.run_id for e in events] == [second_run]
    metadata = events[0].asset_materialization.metadata
    assert metadata["glue_job_run_id"].value == glue_run
    assert metadata["rows"].value == 3
    # One publish: the table's rows were written by that Glue run (the first Dagster run's id).
    with psycopg.connect(**deployed["database"]) as conn:
        written = conn.execute(
            "SELECT count(*), array_agg(DISTINCT _run_id) FROM climate_health.locations"
        ).fetchone()
    assert written == (3, [first_run])


def test_cancelling_a_run_that_follows_a_glue_run_stops_that_glue_run(deployed, tmp_path):
    """A step that follows an earlier attempt's Glue run (``glue_runs``) and is then cancelled
    stops that Glue run, as a step that started its own does; it starts none."""
    from dagster_pipes import encode_param

    from tests.aws.glue_attach_driver import DetachedGlue

    work = {"--lake-root": str(tmp_path / "lake"), "--warehouse": f"secretsmanager:{SECRET_ID}"}
    work |= {"--start-date": DAY.isoformat(), "--end-date": DAY.isoformat()}
    messages = {"bucket": PIPES_BUCKET, "key_prefix": "dagster-pipes/messages/earlier"}
    earlier = client("glue").start_job_run(
        JobName=PROCESS_HEALTH.name,
        Arguments={
            **work,
            "--run-id": "earlier",
            "--dagster-pipes-messages": encode_param(messages),
        },
    )["JobRunId"]

    class CancelledWhileFollowing(DetachedGlue):
        polls = 0

        def get_job_run(self, JobName: str, RunId: str, **_) -> dict:  # noqa: N803
            self.polls += 1
            if self.polls == 2:  # the step is following the run: cancel it as a user would
                os.kill(os.getpid(), signal.SIGINT)
            return super().get_job_run(JobName=JobName, RunId=RunId)

        def start_job_run(self, **_) -> dict:
            raise AssertionError("a run of the same work is in flight: none may start")

    STAND_INS["follow-cancel"] = CancelledWhileFollowing(tmp_path)
    result = _run_glue_asset("follow-cancel", PROCESS_HEALTH.name, work)
    assert not result.success
    assert json.loads((tmp_path / f"{earlier}.state.json").read_text()) == {"state": "STOPPED"}
    listed = client("glue").get_job_runs(JobName=PROCESS_HEALTH.name)["JobRuns"]
    assert [r["Id"] for r in listed] == [earlier]


def test_a_run_of_other_days_in_flight_is_waited_for_before_starting(deployed, tmp_path):
    """An earlier attempt's Glue run of the same job on other days is still in flight: the step
    waits for it to end (two runs of one job never write at once), then starts its own."""
    from tests.aws.glue_attach_driver import DetachedGlue

    work = {"--lake-root": str(tmp_path / "lake"), "--warehouse": f"secretsmanager:{SECRET_ID}"}
    other_day = date.fromordinal(DAY.toordinal() - 1).isoformat()
    earlier = client("glue").start_job_run(
        JobName=PROCESS_HOSPITAL.name,
        Arguments={**work, "--start-date": other_day, "--end-date": other_day},
    )["JobRunId"]
    ended = tmp_path / f"{earlier}.state.json"
    started_at: list[float] = []

    class OwnRunFailsAtOnce(DetachedGlue):
        """The earlier run ends at the second poll of it; this step's own run fails at once."""

        polls = 0

        def get_job_run(self, JobName: str, RunId: str, **_) -> dict:  # noqa: N803
            if RunId == earlier:
                self.polls += 1
                if self.polls == 2:
                    ended.write_text(json.dumps({"state": "SUCCEEDED"}))
            return super().get_job_run(JobName=JobName, RunId=RunId)

        def start_job_run(self, JobName: str, Arguments: dict, **_) -> dict:  # noqa: N803
            started_at.append(time.time())
            run_id = client("glue").start_job_run(JobName=JobName, Arguments=Arguments)["JobRunId"]
            (tmp_path / f"{run_id}.state.json").write_text(
                json.dumps({"state": "FAILED", "error": "ValueError: stand-in run"})
            )
            return {"JobRunId": run_id}

    stand_in = STAND_INS["wait-other"] = OwnRunFailsAtOnce(tmp_path)
    this_day = {"--start-date": DAY.isoformat(), "--end-date": DAY.isoformat()}
    with dg.instance_for_test() as instance:
        result = _run_glue_asset("wait-other", PROCESS_HOSPITAL.name, work | this_day, instance)
        logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert stand_in.polls >= 2  # it polled the earlier run until that ended
    assert not result.success  # its own run failed (the stand-in's), so it did start one
    assert len(started_at) == 1 and started_at[0] >= ended.stat().st_mtime
    assert any(f"run {earlier}" in m and "waiting for it to end" in m for m in logs), logs
