"""The infrastructure as code (``infra/climate-assets.yaml``) on moto's CloudFormation.

The template is deployed as a stack on a moto server (real boto3 calls); ``climate-assets env``
turns the stack's outputs into the environment; ``climate-assets deploy`` deploys the Glue jobs
with it; and the ``locations`` asset is materialized through ``PipesGlueClient`` on that account,
with the stand-in Glue client of ``tests/aws/stand_in_glue.py`` (moto's Glue runs no script).

Where moto falls short, the test says so and asserts the rest:
- moto's CloudFormation creates no ``AWS::Glue::Connection``, ``AWS::Glue::Database``,
  ``AWS::Athena::WorkGroup`` or ``AWS::S3::BucketPolicy`` (so the stack has no output for the
  Glue connection and the workgroup: the test gives their names as the template writes them);
- its ``AWS::S3::Bucket`` applies the encryption but not the public access block, versioning,
  lifecycle rules or ownership controls, and its ``AWS::EC2::SecurityGroup`` no egress rules:
  those are asserted on the template;
- its ``AWS::RDS::DBInstance`` ignores ``ManageMasterUserPassword`` and knows no
  ``MasterUserSecret.SecretArn``: ``moto_rds_managed_secret`` adds both from moto's own
  managed-secret model, with the template's master username in the secret as RDS puts it;
- its RDS runs no database: the stack's endpoint is replaced by the machine's PostgreSQL.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import secrets
import shlex
from datetime import date

import boto3
import dagster as dg
import psycopg
import pytest
import yaml

from climate_assets.defs.athena.assets import shared_table_specs, table_specs
from climate_assets.defs.processed.assets import processed_assets
from climate_assets.environments import resources_for
from climate_assets.job_specs import JOB_SPECS, PROCESS_LOCATIONS
from climate_assets.local_glue.glue_client import LocalGlueClient
from climate_assets.local_glue.spark import local_spark_session
from climate_assets.partitions import daily_partitions
from climate_assets.resources.lake import LocalLakeResource
from climate_assets.settings import (
    DEFAULT_LAKE_PREFIX,
    DEFAULT_PIPES_PREFIX,
    DEFAULT_SCRIPTS_PREFIX,
    GLUE_SCRIPTS_DIR,
    PROJECT_ROOT,
    STACK_VARIABLES,
    AwsSettings,
    Settings,
)
from climate_cli.cli import main
from climate_cli.deploy import DeployConfig, iam_policies
from climate_cli.env import variable_name
from tests.aws.stand_in_glue import STAND_INS, StandInAwsGlueRunner, StandInGlue
from tests.aws_support import ACCOUNT, REGION, client

pytestmark = [
    # moto's notice of each resource type it skips (MOTO_UNSUPPORTED, asserted once below)
    pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto"),
]

TEMPLATE = PROJECT_ROOT / "infra" / "climate-assets.yaml"
STACK = "climate-assets-dev"
# Resource types moto's CloudFormation does not create (it skips them with a warning).
MOTO_UNSUPPORTED = {
    "AWS::Glue::Connection",
    "AWS::Glue::Database",
    "AWS::Athena::WorkGroup",
    "AWS::S3::BucketPolicy",
}
# Hence outputs the stack on moto lacks (a Ref to a skipped resource), as the template names them.
MOTO_MISSING_OUTPUTS = {
    "CLIMATE_GLUE_CONNECTION": "climate-assets-dev-rds",
    "CLIMATE_ATHENA_WORKGROUP": "climate-assets-dev",
}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (``!Ref X`` -> ``{"Ref": X}``, ``!Sub`` ->
    ``{"Fn::Sub": ...}``), to read the template as data."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # a SafeLoader


# --- the template as data (no AWS) ----------------------------------------------------------


def test_the_outputs_are_exactly_the_variables_the_project_reads_on_aws():
    outputs = template()["Outputs"]
    variables = {variable_name(key) for key in outputs}
    assert variables >= set(STACK_VARIABLES)
    others = variables - set(STACK_VARIABLES)
    assert others == {"DAGSTER_ROLE_ARN", "DAGSTER_SECURITY_GROUP_ID", "PRIVATE_SUBNET_IDS"}
    assert all(not name.startswith(("CLIMATE_", "AWS_")) for name in others)


def test_the_template_deploys_without_an_upload_bucket():
    """``aws cloudformation deploy`` (the README's command) sends a template of at most
    51,200 bytes inline; a larger one would need ``--s3-bucket``."""
    assert len(TEMPLATE.read_bytes()) <= 51_200


def test_the_parameters_default_to_the_settings_defaults_and_carry_the_environment():
    parameters = template()["Parameters"]
    assert parameters["Environment"]["AllowedValues"] == ["dev", "prod"]
    assert parameters["LakePrefix"]["Default"] == DEFAULT_LAKE_PREFIX
    assert parameters["ScriptsPrefix"]["Default"] == DEFAULT_SCRIPTS_PREFIX
    assert parameters["PipesPrefix"]["Default"] == DEFAULT_PIPES_PREFIX
    named = {
        "LakeBucket": "BucketName",
        "Database": "DBInstanceIdentifier",
        "GlueJobRole": "RoleName",
        "DagsterRole": "RoleName",
        "AlertTopic": "TopicName",
        "AthenaWorkGroup": "Name",
        "GlueSecurityGroup": "GroupName",
        "DatabaseSecurityGroup": "GroupName",
    }
    resources = template()["Resources"]
    for logical_id, prop in named.items():
        assert "${Environment}" in resources[logical_id]["Properties"][prop]["Fn::Sub"]
    connection = resources["GlueConnection"]["Properties"]["ConnectionInput"]
    assert "${Environment}" in connection["Name"]["Fn::Sub"]


def test_the_glue_databases_are_the_codes():
    databases = {
        r["Properties"]["DatabaseInput"]["Name"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::Glue::Database"
    }
    assert databases == {spec.database for spec in [*table_specs(), *shared_table_specs()]}


def test_what_moto_does_not_apply_is_in_the_template():
    resources = template()["Resources"]
    bucket = resources["LakeBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    pipes = rules["expire-pipes-messages"]
    assert pipes["Prefix"] == {"Fn::Sub": "${PipesPrefix}/"}
    assert pipes["ExpirationInDays"] == {"Ref": "PipesRetentionDays"}
    assert template()["Parameters"]["PipesRetentionDays"]["Default"] == 7
    policy = resources["LakeBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    connection = resources["GlueConnection"]["Properties"]["ConnectionInput"]
    assert connection["ConnectionType"] == "NETWORK"
    requirements = connection["PhysicalConnectionRequirements"]
    assert requirements["SecurityGroupIdList"] == [{"Ref": "GlueSecurityGroup"}]
    workgroup = resources["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["ResultConfiguration"]["OutputLocation"] == {
        "Fn::Sub": "s3://${LakeBucket}/athena-results/"
    }


def test_every_accepted_finding_of_the_scan_is_listed_in_the_docs():
    skipped = {
        (skip["id"], logical_id)
        for logical_id, resource in template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    assert skipped  # the scan accepts some findings: each is justified where it is skipped
    docs = (PROJECT_ROOT / "docs" / "infrastructure.md").read_text()
    table = docs[docs.index("## Accepted findings") :]
    listed = {
        (row.split("`")[1].split()[0], row.split("|")[2].strip(" `"))
        for row in table.splitlines()
        if row.startswith("| `CKV")
    }
    assert listed == skipped


# --- the stack on moto ------------------------------------------------------------------------


def on_the_stack(test):
    """A test of the deployed stack: moto, and a database on the external PostgreSQL."""
    return pytest.mark.e2e(pytest.mark.external_postgres(test))


@contextlib.contextmanager
def moto_rds_managed_secret():
    """What moto's CloudFormation lacks for ``ManageMasterUserPassword``: the instance gets
    moto's own managed secret (as ``create_db_instance`` gives it), holding the template's
    master username and a random password, as RDS's does, and ``MasterUserSecret.SecretArn``."""
    from moto.rds import models as rds

    create = rds.DBInstance.create_from_cloudformation_json.__func__
    has_attr = rds.DBInstance.has_cfn_attr.__func__
    get_attr = rds.DBInstance.get_cfn_attribute

    def create_with_secret(cls, name, cloudformation_json, account_id, region_name, **kwargs):
        instance = create(cls, name, cloudformation_json, account_id, region_name, **kwargs)
        if cloudformation_json["Properties"].get("ManageMasterUserPassword") in (True, "true"):
            instance.manage_master_user_password = True
            instance.master_user_secret = rds.MasterUserSecret(instance, None)
        return instance

    def secret_string(self) -> str:
        password = secrets.token_urlsafe(24)
        return json.dumps({"username": self.resource.master_username, "password": password})

    def attribute(self, name: str):
        if name == "MasterUserSecret.SecretArn":
            return self.master_user_secret.secret_arn
        return get_attr(self, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            rds.DBInstance, "create_from_cloudformation_json", classmethod(create_with_secret)
        )
        patch.setattr(
            rds.DBInstance,
            "has_cfn_attr",
            classmethod(lambda cls, a: a == "MasterUserSecret.SecretArn" or has_attr(cls, a)),
        )
        patch.setattr(rds.DBInstance, "get_cfn_attribute", attribute)
        patch.setattr(rds.MasterUserSecret, "_generate_secret_string", secret_string)
        yield


@pytest.fixture(scope="module")
def stack(moto, external_database):
    """The template deployed on moto as ``climate-assets-dev``, its database one on the
    machine's PostgreSQL (RDS on moto runs none)."""
    database = external_database("climate_infra")
    with moto_rds_managed_secret():
        parameters = {
            "Environment": "dev",
            "DatabaseName": database["dbname"],
            "DatabaseUsername": database.get("user") or "postgres",
        }
        with pytest.warns(UserWarning, match="not supported by moto") as skipped:
            client("cloudformation").create_stack(
                StackName=STACK,
                TemplateBody=TEMPLATE.read_text(),
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
                ],
                Capabilities=["CAPABILITY_NAMED_IAM"],
            )
        yield {"database": database, "skipped": {str(w.message) for w in skipped}}


def _env_of_stack(capsys) -> tuple[int, dict[str, str], str]:
    code = main(["env", "--stack", STACK])
    out, err = capsys.readouterr()
    exports = {}
    for line in out.splitlines():
        export, assignment = shlex.split(line)  # as the shell reads it under eval
        assert export == "export"
        name, _, value = assignment.partition("=")
        exports[name] = value
    return code, exports, err


@on_the_stack
def test_the_stack_creates_every_resource_moto_supports(stack):
    cfn = client("cloudformation")
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    types = {logical: r["Type"] for logical, r in template()["Resources"].items()}
    unsupported = {t for t in types.values() if t in MOTO_UNSUPPORTED}
    assert unsupported == MOTO_UNSUPPORTED  # if moto adds one, move it to the asserted ones
    for kind in MOTO_UNSUPPORTED:
        assert any(kind in message for message in stack["skipped"]), kind
    created = {
        r["LogicalResourceId"]: r
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        if r.get("LogicalResourceId")
    }
    expected = {logical for logical, kind in types.items() if kind not in MOTO_UNSUPPORTED}
    assert set(created) == expected  # InternetAccess defaults to "true": the NAT too
    assert {r["ResourceStatus"] for r in created.values()} == {"CREATE_COMPLETE"}


@on_the_stack
def test_bucket_database_network_and_topic_as_the_template_says(stack):
    bucket = f"climate-assets-dev-{ACCOUNT}-{REGION}"
    encryption = client("s3").get_bucket_encryption(Bucket=bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    instance = client("rds").describe_db_instances(DBInstanceIdentifier="climate-assets-dev")[
        "DBInstances"
    ][0]
    assert (instance["Engine"], instance["EngineVersion"][:3]) == ("postgres", "16.")
    assert instance["StorageEncrypted"] and not instance["PubliclyAccessible"]
    assert not instance["MultiAZ"] and not instance["DeletionProtection"]  # dev
    secret = client("secretsmanager").get_secret_value(
        SecretId=instance["MasterUserSecret"]["SecretArn"]
    )
    assert set(json.loads(secret["SecretString"])) == {"username", "password"}
    ec2 = client("ec2")
    endpoints = {e["ServiceName"]: e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]}
    assert endpoints[f"com.amazonaws.{REGION}.s3"]["VpcEndpointType"] == "Gateway"
    assert endpoints[f"com.amazonaws.{REGION}.s3"]["RouteTableIds"]
    for service in ("secretsmanager", "logs"):
        endpoint = endpoints[f"com.amazonaws.{REGION}.{service}"]
        assert endpoint["VpcEndpointType"] == "Interface" and endpoint["PrivateDnsEnabled"]
        assert len(endpoint["SubnetIds"]) == 2
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    glue, rds = groups["climate-assets-dev-glue"], groups["climate-assets-dev-rds"]
    assert glue["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == glue["GroupId"]
    assert rds["IpPermissions"][0]["FromPort"] == 5432
    sources = {p["GroupId"] for p in rds["IpPermissions"][0]["UserIdGroupPairs"]}
    assert sources == {glue["GroupId"], groups["climate-assets-dev-dagster"]["GroupId"]}
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:climate-assets-dev-alerts"
    attributes = client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"


@on_the_stack
def test_env_prints_the_stacks_variables_and_names_those_missing(stack, capsys):
    code, exports, err = _env_of_stack(capsys)
    assert set(exports) == set(STACK_VARIABLES) - set(MOTO_MISSING_OUTPUTS)
    assert code == 1 and err.count("\n") == 1  # one line: what is missing, what to do
    assert "CLIMATE_GLUE_CONNECTION, CLIMATE_ATHENA_WORKGROUP" in err
    assert exports["CLIMATE_ENV"] == "aws" and exports["AWS_REGION"] == REGION
    assert exports["CLIMATE_LAKE_BUCKET"] == f"climate-assets-dev-{ACCOUNT}-{REGION}"
    assert exports["CLIMATE_ATHENA_RESULTS"] == (
        f"s3://climate-assets-dev-{ACCOUNT}-{REGION}/athena-results/"
    )
    assert exports["CLIMATE_RDS_SECRET_ID"].startswith(
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-"
    )
    assert exports["CLIMATE_RDS_DATABASE"] == stack["database"]["dbname"]
    assert (
        exports["CLIMATE_GLUE_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT}:role/climate-assets-dev-glue"
    )


@on_the_stack
def test_env_says_in_one_line_when_the_stack_or_credentials_are_missing(stack, capsys, monkeypatch):
    assert main(["env", "--stack", "climate-assets-nope"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "no stack 'climate-assets-nope' in us-east-1: deploy it first" in err
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a new process: no credentials cached
    assert main(["env", "--stack", STACK]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "no AWS credentials found" in err


def _grants(document: dict) -> set[tuple[str, str, str, str]]:
    """(effect, action, resource, condition) of every pair a policy allows: what it grants,
    whatever the grouping of statements and their Sids."""

    def as_list(value):
        return value if isinstance(value, list) else [value]

    return {
        (s["Effect"], action, resource, json.dumps(s.get("Condition"), sort_keys=True))
        for s in document["Statement"]
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    }


def _role_policy(role: str, name: str) -> dict:
    document = client("iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    # moto returns an inline policy of a CloudFormation role as Python's repr of the dict
    return document if isinstance(document, dict) else ast.literal_eval(document)


@pytest.fixture
def stack_environment(stack, capsys, monkeypatch):
    """The environment ``eval "$(climate-assets env --stack ...)"`` gives, completed with
    what moto cannot output, and RDS's endpoint pointed at the machine's PostgreSQL."""
    _, exports, _ = _env_of_stack(capsys)
    database = stack["database"]
    exports.update(MOTO_MISSING_OUTPUTS)
    exports["CLIMATE_RDS_HOST"] = database["host"]
    exports["CLIMATE_RDS_PORT"] = str(database.get("port") or 5432)
    exports["CLIMATE_RDS_SSLMODE"] = "disable"  # the machine's PostgreSQL has no TLS
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    return exports


@on_the_stack
def test_the_roles_grant_what_deploy_writes(stack_environment, tmp_path):
    """One source for the policies: the template's roles (as the stack created them) grant the
    same actions on the same resources as ``deploy --dry-run``'s policies for its outputs."""
    databases = tuple(sorted({s.database for s in [*table_specs(), *shared_table_specs()]}))
    config = DeployConfig.from_settings(AwsSettings.from_env(), databases)
    assert config.alert_topic_arn == stack_environment["CLIMATE_ALERT_TOPIC_ARN"]
    written = iam_policies(config, "aws", ACCOUNT)
    glue = _role_policy("climate-assets-dev-glue", "glue-job-role-policy")
    dagster = _role_policy("climate-assets-dev-dagster", "dagster-role-policy")
    assert _grants(glue) == _grants(written["glue-job-role-policy.json"])
    assert _grants(dagster) == _grants(written["dagster-role-policy.json"])
    trust = client("iam").get_role(RoleName="climate-assets-dev-glue")["Role"]
    assert trust["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "glue.amazonaws.com"
    }
    # and the CLI writes the same files from the same environment
    assert main(["deploy", "--dry-run", "--policy-dir", str(tmp_path)]) == 0
    for name, document in written.items():
        assert json.loads((tmp_path / name).read_text()) == document


@on_the_stack
def test_deploy_on_the_stack_then_a_glue_run_through_pipes(
    stack, stack_environment, tmp_path, capsys
):
    assert main(["deploy", "--policy-dir", str(tmp_path / "iam")]) == 0
    assert "create Glue job process-locations" in capsys.readouterr().out
    bucket = stack_environment["CLIMATE_SCRIPTS_BUCKET"]
    glue = client("glue")
    for job_name, script in ((n, s.script) for n, s in JOB_SPECS.items()):
        job = glue.get_job(JobName=job_name)["Job"]
        assert job["Role"] == stack_environment["CLIMATE_GLUE_ROLE_ARN"]
        assert job["Connections"] == {"Connections": ["climate-assets-dev-rds"]}
        assert job["Command"]["ScriptLocation"] == f"s3://{bucket}/glue/{script}"

    from climate_cli.generate import generate_landing_zone

    lake = tmp_path / "lake"  # local Spark reads no s3://: the lake stays a folder
    generate_landing_zone(lake, locations=3, days=1, start=date(2024, 1, 15), seed=3)
    spark = LocalGlueClient(
        {PROCESS_LOCATIONS.name: GLUE_SCRIPTS_DIR / PROCESS_LOCATIONS.script},
        lambda: local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2),
    )
    stand_in = StandInGlue(spark)
    STAND_INS["stack"] = stand_in
    aws = AwsSettings.from_env()
    resources = {
        **resources_for(Settings.from_env()),  # CLIMATE_ENV=aws from the stack: the AWS ones
        "lake": LocalLakeResource(root=str(lake)),
        "glue": StandInAwsGlueRunner(
            region=aws.region,
            pipes_bucket=aws.pipes_bucket,
            pipes_prefix=aws.pipes_prefix,
            poll_interval_seconds=1,
            stand_in="stack",
        ),
    }
    locations = next(
        a
        # no retries: a failure shows at once
        for a in processed_assets(daily_partitions("2024-01-01"), dg.RetryPolicy(max_retries=0))
        if a.key.path == ["locations"]
    )
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = dg.materialize([locations], resources=resources, raise_on_error=False)
    finally:
        spark.stop()
    assert result.success
    [(job_name, arguments)] = stand_in.started
    assert job_name == PROCESS_LOCATIONS.name
    secret_id = stack_environment["CLIMATE_RDS_SECRET_ID"]
    assert arguments["--warehouse"].startswith(f"secretsmanager:{secret_id}?host=")
    password = json.loads(
        client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    )["password"]
    assert password not in json.dumps(arguments)
    pipes = client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{aws.pipes_prefix}/")
    assert (
        pipes.get("KeyCount", 0) > 0
    )  # Pipes context and messages went through the stack's bucket
    with psycopg.connect(**stack["database"]) as conn:
        rows = conn.execute("SELECT count(*) FROM climate_health.locations").fetchone()[0]
    assert rows == 3
    [materialization] = result.asset_materializations_for_node(locations.node_def.name)
    assert materialization.metadata["rows"].value == 3
