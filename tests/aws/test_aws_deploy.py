"""``climate-assets deploy`` against moto (server mode, real boto3 calls): the jobs it creates,
that a second run changes nothing, the dry run, and the IAM policies it writes."""

from __future__ import annotations

import io
import json
import zipfile
from importlib.metadata import version

import pytest

from climate_assets.job_specs import JOB_SPECS
from climate_assets.settings import GLUE_SCRIPTS_DIR, AwsSettings
from climate_cli.cli import main
from climate_cli.deploy import DeployConfig, deploy, job_differences
from tests.aws_support import (
    ACCOUNT,
    AWS_ENV,
    LAKE_BUCKET,
    REGION,
    SCRIPTS_BUCKET,
    SECRET_ID,
    client,
)

PASSWORD = "deploy-test-pw-5c1e"  # must appear in no job definition or policy
ROLE = AWS_ENV["CLIMATE_GLUE_ROLE_ARN"]


@pytest.fixture(scope="module")
def deploy_config(aws_settings):
    """The deploy configuration from the project's settings on moto, with an RDS secret that
    names a server nobody connects to (deploy only refers to the secret)."""
    client("secretsmanager").create_secret(
        Name=SECRET_ID,
        SecretString=json.dumps(
            {"host": "db.example", "username": "climate", "password": PASSWORD}
        ),
    )
    return DeployConfig.from_settings(AwsSettings.from_env(), ("climate_health",))


def _jobs() -> dict[str, dict]:
    glue = client("glue")
    return {name: glue.get_job(JobName=name)["Job"] for name in glue.list_jobs()["JobNames"]}


def test_dry_run_prints_the_plan_and_writes_nothing(deploy_config, tmp_path, capsys):
    assert main(["deploy", "--dry-run", "--policy-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out
    for script in (spec.script for spec in JOB_SPECS.values()):
        assert f"would upload s3://{SCRIPTS_BUCKET}/glue/{script}" in out
    assert f"would upload s3://{SCRIPTS_BUCKET}/glue/climate_glue.zip" in out
    for job in JOB_SPECS:
        assert f"would create Glue job {job}" in out
    assert client("s3").list_objects_v2(Bucket=SCRIPTS_BUCKET).get("KeyCount") == 0
    assert client("glue").list_jobs()["JobNames"] == []


def test_deploy_creates_each_job_exactly_as_specified(deploy_config, tmp_path):
    plan = deploy(deploy_config, policy_dir=tmp_path)
    assert sorted(plan.created_jobs) == sorted(JOB_SPECS)
    assert len(plan.uploads) == len(JOB_SPECS) + 1
    jobs = _jobs()
    assert sorted(jobs) == sorted(JOB_SPECS)
    modules = f"dagster-pipes=={version('dagster-pipes')},psycopg[binary]=={version('psycopg')}"
    for name, script in ((n, s.script) for n, s in JOB_SPECS.items()):
        job = jobs[name]
        assert job["Role"] == ROLE
        assert job["GlueVersion"] == "5.0"
        assert job["Command"] == {
            "Name": "glueetl",
            "ScriptLocation": f"s3://{SCRIPTS_BUCKET}/glue/{script}",
            "PythonVersion": "3",
        }
        assert job["DefaultArguments"] == {
            "--job-language": "python",
            "--enable-continuous-cloudwatch-log": "true",
            "--job-bookmark-option": "job-bookmark-disable",
            "--engine": "spark",
            "--additional-python-modules": modules,
            "--extra-py-files": f"s3://{SCRIPTS_BUCKET}/glue/climate_glue.zip",
        }
        assert job["Connections"] == {"Connections": ["climate-rds"]}
        assert job["MaxRetries"] == 0
        assert job["WorkerType"] == "G.1X"
        assert job["NumberOfWorkers"] == 2
        assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 4}
        assert job["Timeout"] == (120 if name == "calculate-derived-metrics" else 60)
    s3 = client("s3")
    for script in (spec.script for spec in JOB_SPECS.values()):
        body = s3.get_object(Bucket=SCRIPTS_BUCKET, Key=f"glue/{script}")["Body"].read()
        assert body == (GLUE_SCRIPTS_DIR / script).read_bytes()
    archive = s3.get_object(Bucket=SCRIPTS_BUCKET, Key="glue/climate_glue.zip")["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    expected = sorted(
        str(p.relative_to(GLUE_SCRIPTS_DIR))
        for p in (GLUE_SCRIPTS_DIR / "climate_glue").rglob("*.py")
    )
    assert names == expected
    assert "climate_glue/lake.py" in names


def test_a_second_deploy_changes_nothing_and_says_so(deploy_config, tmp_path, capsys):
    before = {
        o["Key"]: o["LastModified"]
        for o in client("s3").list_objects_v2(Bucket=SCRIPTS_BUCKET)["Contents"]
    }
    jobs_before = _jobs()
    assert main(["deploy", "--policy-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Nothing to change" in out
    assert "upload" not in out and "create" not in out and "update" not in out
    after = {
        o["Key"]: o["LastModified"]
        for o in client("s3").list_objects_v2(Bucket=SCRIPTS_BUCKET)["Contents"]
    }
    assert after == before
    assert _jobs() == jobs_before


def test_a_changed_definition_is_an_update_of_exactly_those_fields(deploy_config):
    current = _jobs()["process-climate-data"]
    wanted = {k: current[k] for k in ("Command", "DefaultArguments", "NumberOfWorkers")}
    assert job_differences(current, wanted) == []
    bigger = {**wanted, "NumberOfWorkers": 10}
    assert job_differences(current, bigger) == ["NumberOfWorkers"]
    fewer_args = {**wanted, "DefaultArguments": {"--job-language": "python"}}
    assert job_differences(current, fewer_args) == ["DefaultArguments"]


def test_iam_policies_are_scoped_and_hold_no_secret(deploy_config, tmp_path):
    deploy(deploy_config, dry_run=True, policy_dir=tmp_path)
    glue_role = json.loads((tmp_path / "glue-job-role-policy.json").read_text())
    dagster_role = json.loads((tmp_path / "dagster-role-policy.json").read_text())
    by_sid = {s["Sid"]: s for s in glue_role["Statement"]}
    secret_arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{SECRET_ID}-??????"
    assert by_sid["ReadWarehouseSecret"]["Resource"] == secret_arn
    assert by_sid["ReadJobScripts"]["Resource"] == f"arn:aws:s3:::{SCRIPTS_BUCKET}/glue/*"
    assert by_sid["ReadWriteLake"]["Resource"] == f"arn:aws:s3:::{LAKE_BUCKET}/lake/*"
    assert by_sid["ListLake"]["Condition"] == {"StringLike": {"s3:prefix": ["lake", "lake/*"]}}
    run_jobs = {s["Sid"]: s for s in dagster_role["Statement"]}["RunGlueJobs"]
    assert sorted(run_jobs["Resource"]) == sorted(
        f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{name}" for name in JOB_SPECS
    )
    assert "glue:BatchStopJobRun" in run_jobs["Action"]
    # "*" only where EC2 allows nothing narrower (the Glue connection's network interfaces)
    for policy in (glue_role, dagster_role):
        for statement in policy["Statement"]:
            if statement["Resource"] == "*":
                assert statement["Sid"] == "ConnectionNetworkInterfaces"
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert PASSWORD not in text
    assert PASSWORD not in json.dumps(_jobs(), default=str)


def test_jobs_reports_spark_and_each_jobs_size_on_aws(deploy_config, monkeypatch, capsys):
    """On AWS Glue every job runs Spark, whatever the local engine (CLIMATE_ENGINE) says."""
    deploy(deploy_config)
    monkeypatch.setenv("CLIMATE_ENV", "aws")
    monkeypatch.setenv("CLIMATE_ENGINE", "duckdb")
    assert main(["jobs", "--json"]) == 0
    jobs = {job["name"]: job for job in json.loads(capsys.readouterr().out)}
    assert list(jobs) == list(JOB_SPECS)
    assert {job["engine"] for job in jobs.values()} == {"spark"}
    for job in jobs.values():
        deployed = job["deployed"]
        assert (deployed["WorkerType"], deployed["NumberOfWorkers"], deployed["Timeout"]) == (
            job["worker_type"],
            job["workers"],
            job["timeout_minutes"],
        )
    assert jobs["calculate-derived-metrics"]["timeout_minutes"] == 120
