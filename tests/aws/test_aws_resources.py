"""The AWS resources in isolation: environment switch, Glue cost, driver log reader, RDS secret."""

import io
import json
import threading
import time

import dagster as dg
import pytest
from climate_glue.warehouse import resolve_dsn

from climate_assets.definitions import build_definitions
from climate_assets.resources.athena import DuckDBAthena, GlueCatalogAthena
from climate_assets.resources.glue import AwsGlueRunner
from climate_assets.resources.glue_cost import dpu_seconds
from climate_assets.resources.glue_logs import GlueDriverLogReader
from climate_assets.resources.lake import S3LakeResource
from climate_assets.resources.warehouse import SecretsManagerWarehouse
from climate_assets.settings import Settings
from tests.aws_support import client


def test_climate_env_picks_the_aws_resources_and_executor(monkeypatch):
    monkeypatch.setenv("CLIMATE_ENV", "aws")
    monkeypatch.setenv("CLIMATE_LAKE_PREFIX", "data/lake")
    for name in ("CLIMATE_LAKE_BUCKET", "CLIMATE_RDS_SECRET_ID", "CLIMATE_PIPES_BUCKET"):
        monkeypatch.delenv(name, raising=False)  # resolved at launch, not at load
    defs = build_definitions(Settings.from_env())
    resources = defs.resources
    assert isinstance(resources["lake"], S3LakeResource)
    assert resources["lake"].prefix == "data/lake"
    assert isinstance(resources["glue"], AwsGlueRunner)
    assert isinstance(resources["warehouse"], SecretsManagerWarehouse)
    assert isinstance(resources["athena"], GlueCatalogAthena)
    assert isinstance(resources["lake"].bucket, dg.EnvVar)
    assert defs.executor == dg.multiprocess_executor
    monkeypatch.setenv("CLIMATE_ENV", "local")
    local = build_definitions(Settings.from_env())
    assert isinstance(local.resources["athena"], DuckDBAthena)
    assert local.executor == dg.in_process_executor
    monkeypatch.setenv("CLIMATE_ENV", "staging")
    with pytest.raises(ValueError, match="CLIMATE_ENV='staging': expected one of local, aws"):
        Settings.from_env()


def test_dpu_seconds_from_glue_or_from_workers():
    assert dpu_seconds({"DPUSeconds": 321.5, "ExecutionTime": 100}) == 321.5
    g2 = {"ExecutionTime": 100, "WorkerType": "G.2X", "NumberOfWorkers": 5}
    assert dpu_seconds(g2) == 1000  # 100 s x 5 workers x 2 DPU
    assert dpu_seconds({"ExecutionTime": 100, "MaxCapacity": 10.0}) == 1000
    assert dpu_seconds({"JobRunState": "RUNNING"}) is None


def test_the_driver_log_reader_streams_and_stops_when_the_session_closes(moto):
    logs = client("logs")
    logs.create_log_group(logGroupName="/aws-glue/jobs/output")
    logs.create_log_stream(logGroupName="/aws-glue/jobs/output", logStreamName="jr_1")

    def put(message: str) -> None:
        logs.put_log_events(
            logGroupName="/aws-glue/jobs/output",
            logStreamName="jr_1",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
        )

    out = io.StringIO()
    reader = GlueDriverLogReader(
        client=logs,
        log_group="/aws-glue/jobs/output",
        log_stream="jr_1",
        target_stream=out,
        interval=0.2,
    )
    closed = threading.Event()
    put("first line")
    assert reader.target_is_readable({})
    reader.start({}, closed)
    put('{"__dagster_pipes_version": "0.1", "method": "log", "params": {}}')  # not forwarded
    put("second line")
    deadline = time.monotonic() + 30
    while "second line" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.1)
    closed.set()
    reader.thread.join(timeout=30)
    assert not reader.is_running()  # a quiet stream does not keep the thread polling
    assert out.getvalue().splitlines() == ["first line", "second line"]


def test_the_rds_secret_gives_a_dsn_with_sslmode_and_names_no_value(moto):
    secrets = client("secretsmanager")
    secret = {"host": "db.internal", "port": 5433, "username": "u", "password": "pw-77f1"}
    secrets.create_secret(Name="rds/a", SecretString=json.dumps({**secret, "dbname": "climate"}))
    dsn = resolve_dsn("secretsmanager:rds/a")
    assert "sslmode=require" in dsn and "host=db.internal" in dsn and "port=5433" in dsn
    secrets.create_secret(Name="rds/b", SecretString=json.dumps({**secret, "sslmode": "disable"}))
    assert "sslmode=disable" in resolve_dsn("secretsmanager:rds/b")
    secrets.create_secret(Name="rds/c", SecretString=json.dumps({"password": "pw-77f1"}))
    with pytest.raises(ValueError, match="secret 'rds/c' has no host, username") as error:
        resolve_dsn("secretsmanager:rds/c")
    assert "pw-77f1" not in str(error.value)
    assert SecretsManagerWarehouse(secret_id="rds/a").job_reference() == "secretsmanager:rds/a"


def test_a_secret_rds_manages_gets_where_the_database_is_from_the_reference(moto, monkeypatch):
    """RDS's own secret holds only username and password: CLIMATE_RDS_HOST, _PORT, _DATABASE and
    _SSLMODE go with the reference (not secret), and the jobs read the password from the secret."""
    arn = client("secretsmanager").create_secret(
        Name="rds!db-0f3c", SecretString=json.dumps({"username": "climate", "password": "pw-9a"})
    )["ARN"]
    with pytest.raises(ValueError, match="has no host, and the reference gives none"):
        resolve_dsn(f"secretsmanager:{arn}")
    monkeypatch.setenv("CLIMATE_ENV", "aws")
    monkeypatch.setenv("CLIMATE_RDS_HOST", "db.internal")
    monkeypatch.setenv("CLIMATE_RDS_PORT", "5433")
    monkeypatch.setenv("CLIMATE_RDS_DATABASE", "lakehouse")
    monkeypatch.setenv("CLIMATE_RDS_SSLMODE", "verify-full")
    monkeypatch.setenv("CLIMATE_RDS_SECRET_ID", arn)
    warehouse = build_definitions(Settings.from_env()).resources["warehouse"]
    reference = warehouse.process_config_and_initialize().job_reference()
    assert reference == (
        f"secretsmanager:{arn}?host=db.internal&port=5433&dbname=lakehouse&sslmode=verify-full"
    )
    assert "pw-9a" not in reference
    dsn = resolve_dsn(reference)
    for part in ("host=db.internal", "port=5433", "dbname=lakehouse", "sslmode=verify-full"):
        assert part in dsn
    assert "user=climate" in dsn and "pw-9a" in dsn  # the secret's: only the job sees them
    with pytest.raises(ValueError, match="unknown password"):
        resolve_dsn(f"secretsmanager:{arn}?password=x")
