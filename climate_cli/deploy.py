"""``climate-assets deploy``: the Glue jobs as code, and the IAM policies they need.

Uploads each job script and a zip of their shared library (``climate_glue``) to the scripts
bucket, then creates or updates one Glue job per script. Everything is compared first: an
artifact whose content hash is unchanged is not uploaded, and a job whose definition already
matches is not updated, so a second run changes nothing and says so. ``dry_run`` computes the
same plan and writes nothing to AWS.

It also writes least-privilege IAM policy documents for the Glue job role and the role Dagster
runs as, scoped to the buckets and prefixes, job ARNs, secret ARN, Glue databases and the
Athena workgroup. They name the secret; they never contain its value.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from climate_glue.aws import aws_client

from climate_assets.job_specs import AWS_ENGINE, JOB_SPECS
from climate_assets.settings import GLUE_SCRIPTS_DIR, AwsSettings

GLUE_VERSION = "5.0"
LIBRARY_PACKAGE = "climate_glue"
LIBRARY_ZIP = f"{LIBRARY_PACKAGE}.zip"
HASH_METADATA = "sha256"  # S3 user metadata holding an artifact's content hash
GLUE_LOG_GROUPS = "/aws-glue/jobs"  # Glue 5.0 writes to /aws-glue/jobs/output and .../error
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources make the same zip


@dataclass(frozen=True)
class DeployConfig:
    region: str
    scripts_bucket: str
    scripts_prefix: str
    glue_role_arn: str
    glue_connection: str
    lake_bucket: str
    lake_prefix: str
    pipes_bucket: str
    pipes_prefix: str
    rds_secret_id: str
    athena_workgroup: str
    athena_results: str
    databases: tuple[str, ...]
    alert_topic_arn: str | None = None  # the Dagster role may publish run failure alerts to it

    @classmethod
    def from_settings(cls, aws: AwsSettings, databases: tuple[str, ...]) -> DeployConfig:
        aws.require(
            "region",
            "scripts_bucket",
            "glue_role_arn",
            "glue_connection",
            "lake_bucket",
            "pipes_bucket",
            "rds_secret_id",
            "athena_results",
        )
        return cls(
            region=aws.region,
            scripts_bucket=aws.scripts_bucket,
            scripts_prefix=aws.scripts_prefix,
            glue_role_arn=aws.glue_role_arn,
            glue_connection=aws.glue_connection,
            lake_bucket=aws.lake_bucket,
            lake_prefix=aws.lake_prefix,
            pipes_bucket=aws.pipes_bucket,
            pipes_prefix=aws.pipes_prefix,
            rds_secret_id=aws.rds_secret_id,
            athena_workgroup=aws.athena_workgroup,
            athena_results=aws.athena_results,
            databases=databases,
            alert_topic_arn=aws.alert_topic_arn,
        )

    def script_key(self, name: str) -> str:
        return "/".join(p for p in (self.scripts_prefix, name) if p)

    def s3_uri(self, key: str) -> str:
        return f"s3://{self.scripts_bucket}/{key}"


@dataclass
class Plan:
    """What deploy does (or, on a dry run, would do), in order."""

    uploads: list[str] = field(default_factory=list)  # s3 URIs uploaded
    unchanged_artifacts: list[str] = field(default_factory=list)
    created_jobs: list[str] = field(default_factory=list)
    updated_jobs: dict[str, list[str]] = field(default_factory=dict)  # job -> changed fields
    unchanged_jobs: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # files written

    @property
    def changes(self) -> int:
        return len(self.uploads) + len(self.created_jobs) + len(self.updated_jobs)

    def lines(self, dry_run: bool) -> list[str]:
        verb = "would " if dry_run else ""
        out = [f"{verb}upload {uri}" for uri in self.uploads]
        out += [f"unchanged {uri}" for uri in self.unchanged_artifacts]
        out += [f"{verb}create Glue job {name}" for name in self.created_jobs]
        out += [
            f"{verb}update Glue job {name}: {', '.join(fields)}"
            for name, fields in self.updated_jobs.items()
        ]
        out += [f"unchanged Glue job {name}" for name in self.unchanged_jobs]
        out += [f"wrote IAM policy {path}" for path in self.policies]
        if not self.changes:
            out.append("Nothing to change: the scripts and jobs on AWS are up to date.")
        return out


def library_zip(scripts_dir: Path = GLUE_SCRIPTS_DIR) -> bytes:
    """The job scripts' shared library as a zip for ``--extra-py-files``, byte-for-byte the
    same for the same sources (sorted entries, fixed timestamps), so its hash says if it changed."""
    package = scripts_dir / LIBRARY_PACKAGE
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*.py")):
            info = zipfile.ZipInfo(str(path.relative_to(scripts_dir)), ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def artifacts(scripts_dir: Path = GLUE_SCRIPTS_DIR) -> dict[str, bytes]:
    """File name -> content of everything uploaded: each job script and the library zip."""
    files = {spec.script: (scripts_dir / spec.script).read_bytes() for spec in JOB_SPECS.values()}
    files[LIBRARY_ZIP] = library_zip(scripts_dir)
    return files


def python_modules() -> str:
    """``--additional-python-modules``: the job side's packages Glue 5.0 does not ship, pinned
    to the versions this project runs locally."""
    return f"dagster-pipes=={version('dagster-pipes')},psycopg[binary]=={version('psycopg')}"


def job_definition(config: DeployConfig, job_name: str) -> dict[str, Any]:
    """A Glue job as ``create_job`` takes it (without ``Name``) and ``update_job``'s JobUpdate."""
    spec = JOB_SPECS[job_name]
    script = spec.script
    return {
        "Description": f"climate-assets {job_name} ({script}); launched by Dagster through Pipes",
        "Role": config.glue_role_arn,
        "GlueVersion": GLUE_VERSION,
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": config.s3_uri(config.script_key(script)),
            "PythonVersion": "3",
        },
        "DefaultArguments": {
            "--job-language": "python",
            "--enable-continuous-cloudwatch-log": "true",
            "--job-bookmark-option": "job-bookmark-disable",  # partitions drive incrementality
            "--engine": AWS_ENGINE,  # a Glue Spark job runs the Spark engine, even started by hand
            "--additional-python-modules": python_modules(),
            "--extra-py-files": config.s3_uri(config.script_key(LIBRARY_ZIP)),
        },
        "Connections": {"Connections": [config.glue_connection]},
        "MaxRetries": 0,  # Dagster owns retries
        "Timeout": spec.timeout_minutes,
        "ExecutionProperty": {"MaxConcurrentRuns": spec.max_concurrent_runs},
        "WorkerType": spec.worker_type,
        "NumberOfWorkers": spec.workers,
    }


# Compared whole: an argument or connection that is on AWS but not wanted is a difference.
_EXACT_FIELDS = ("DefaultArguments", "Connections")


def _contains(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(
            _contains(current.get(key), value) for key, value in wanted.items()
        )
    return current == wanted


def job_differences(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The fields of ``wanted`` that the job on AWS (``get_job``'s Job) does not match."""
    changed = []
    for key, value in wanted.items():
        same = (
            (current.get(key) or {}) == value
            if key in _EXACT_FIELDS
            else _contains(current.get(key), value)
        )
        if not same:
            changed.append(key)
    return changed


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _uploaded_hash(s3, bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head.get("Metadata", {}).get(HASH_METADATA)


def deploy(
    config: DeployConfig,
    dry_run: bool = False,
    policy_dir: Path | None = None,
    client: Callable[[str, str], Any] = aws_client,
) -> Plan:
    """Upload what changed, create or update the jobs that differ, write the IAM policies."""
    s3, glue = client("s3", config.region), client("glue", config.region)
    plan = Plan()
    for name, data in artifacts().items():
        key = config.script_key(name)
        digest = _sha256(data)
        if _uploaded_hash(s3, config.scripts_bucket, key) == digest:
            plan.unchanged_artifacts.append(config.s3_uri(key))
            continue
        plan.uploads.append(config.s3_uri(key))
        if not dry_run:
            s3.put_object(
                Bucket=config.scripts_bucket, Key=key, Body=data, Metadata={HASH_METADATA: digest}
            )
    for job_name in JOB_SPECS:
        wanted = job_definition(config, job_name)
        try:
            current = glue.get_job(JobName=job_name)["Job"]
        except glue.exceptions.EntityNotFoundException:
            plan.created_jobs.append(job_name)
            if not dry_run:
                glue.create_job(Name=job_name, **wanted)
            continue
        changed = job_differences(current, wanted)
        if not changed:
            plan.unchanged_jobs.append(job_name)
            continue
        plan.updated_jobs[job_name] = changed
        if not dry_run:
            glue.update_job(JobName=job_name, JobUpdate=wanted)
    if policy_dir is not None:
        identity = client("sts", config.region).get_caller_identity()
        partition, account = identity["Arn"].split(":")[1], identity["Account"]
        for filename, document in iam_policies(config, partition, account).items():
            path = Path(policy_dir, filename)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            plan.policies.append(str(path))
    return plan


# --- IAM ------------------------------------------------------------------------------------


def _objects(bucket: str, prefix: str, partition: str) -> str:
    return f"arn:{partition}:s3:::{bucket}/{prefix + '/' if prefix else ''}*"


def _list_bucket(sid: str, bucket: str, prefix: str, partition: str) -> dict:
    statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:{partition}:s3:::{bucket}",
    }
    if prefix:
        statement["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    return statement


def _secret_arn(config: DeployConfig, partition: str, account: str) -> str:
    if config.rds_secret_id.startswith("arn:"):
        return config.rds_secret_id
    # Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
    return f"arn:{partition}:secretsmanager:{config.region}:{account}:secret:{config.rds_secret_id}-??????"


def _s3_uri_parts(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


# Actions that a statement grants, by what they are for.
LAKE_READ_WRITE = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",  # Spark's large Parquet files
    "s3:ListMultipartUploadParts",
]
CONNECTION_NETWORK = [  # EC2 grants these on "*" only
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcAttribute",
    "ec2:CreateTags",
    "ec2:DeleteTags",
]
JOB_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
RUN_GLUE_JOBS = [
    "glue:StartJobRun",
    "glue:GetJobRun",
    "glue:GetJobRuns",
    "glue:BatchStopJobRun",
    "glue:GetJob",
]
ATHENA_TABLES = [
    "glue:GetDatabase",
    "glue:CreateDatabase",
    "glue:GetTable",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartitions",
]
ATHENA_WORKGROUP = [
    "athena:CreateNamedQuery",
    "athena:UpdateNamedQuery",
    "athena:GetNamedQuery",
    "athena:ListNamedQueries",
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetWorkGroup",
]
GET_SECRET = "secretsmanager:GetSecretValue"
POLICY_VERSION = "2012-10-17"
GLUE_ROLE_POLICY = "glue-job-role-policy.json"
DAGSTER_ROLE_POLICY = "dagster-role-policy.json"


def _allow(sid: str, actions: str | list[str], resource: str | list[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


@dataclass(frozen=True)
class PolicyResources:
    """The ARNs that the policies grant on, from the deploy configuration."""

    config: DeployConfig
    partition: str
    account: str

    def glue(self, resource: str) -> str:
        return f"arn:{self.partition}:glue:{self.config.region}:{self.account}:{resource}"

    def objects(self, bucket: str, prefix: str) -> str:
        return _objects(bucket, prefix, self.partition)

    def list_bucket(self, sid: str, bucket: str, prefix: str) -> dict:
        return _list_bucket(sid, bucket, prefix, self.partition)

    @property
    def jobs(self) -> list[str]:
        return [self.glue(f"job/{name}") for name in JOB_SPECS]

    @property
    def logs(self) -> list[str]:
        group = (
            f"arn:{self.partition}:logs:{self.config.region}:{self.account}"
            f":log-group:{GLUE_LOG_GROUPS}/*"
        )
        return [group, f"{group}:*"]

    @property
    def secret(self) -> str:
        return _secret_arn(self.config, self.partition, self.account)

    @property
    def lake(self) -> str:
        return self.objects(self.config.lake_bucket, self.config.lake_prefix)

    @property
    def pipes(self) -> str:
        return self.objects(self.config.pipes_bucket, self.config.pipes_prefix)

    @property
    def catalog(self) -> list[str]:
        tables = [self.glue("catalog")]
        for database in self.config.databases:
            tables += [self.glue(f"database/{database}"), self.glue(f"table/{database}/*")]
        return tables

    @property
    def workgroup(self) -> str:
        config = self.config
        return f"arn:{self.partition}:athena:{config.region}:{self.account}:workgroup/{config.athena_workgroup}"


def glue_role_statements(arns: PolicyResources) -> list[dict]:
    """What the Glue jobs do: read their scripts, write the lake and the warehouse, log."""
    config = arns.config
    return [
        _allow(
            "ReadJobScripts",
            "s3:GetObject",
            arns.objects(config.scripts_bucket, config.scripts_prefix),
        ),
        arns.list_bucket("ListLake", config.lake_bucket, config.lake_prefix),
        _allow("ReadWriteLake", LAKE_READ_WRITE, arns.lake),
        _allow("PipesContextAndMessages", ["s3:GetObject", "s3:PutObject"], arns.pipes),
        _allow("ReadWarehouseSecret", GET_SECRET, arns.secret),
        _allow(
            "UseRdsConnection",
            "glue:GetConnection",
            [arns.glue("catalog"), arns.glue(f"connection/{config.glue_connection}")],
        ),
        _allow("ConnectionNetworkInterfaces", CONNECTION_NETWORK, "*"),
        _allow("JobLogs", JOB_LOGS, arns.logs),
    ]


def dagster_role_statements(arns: PolicyResources) -> list[dict]:
    """What Dagster does: run the jobs, watch the landing zone, keep the Athena tables, check
    the warehouse, and publish alerts."""
    config = arns.config
    results_bucket, results_prefix = _s3_uri_parts(config.athena_results)
    landing = [
        arns.objects(config.lake_bucket, "/".join(p for p in (config.lake_prefix, sub) if p))
        for sub in ("raw", "quarantine")
    ]
    statements = [
        _allow("RunGlueJobs", RUN_GLUE_JOBS, arns.jobs),
        arns.list_bucket("ListPipes", config.pipes_bucket, config.pipes_prefix),
        _allow(
            "PipesContextAndMessages",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            arns.pipes,
        ),
        arns.list_bucket("ListLake", config.lake_bucket, config.lake_prefix),
        _allow("ReadLake", "s3:GetObject", arns.lake),  # sensors, Athena queries
        _allow("QuarantineLandingFiles", ["s3:PutObject", "s3:DeleteObject"], landing),
        _allow("DriverLogs", ["logs:GetLogEvents", "logs:DescribeLogStreams"], arns.logs),
        _allow("AthenaTables", ATHENA_TABLES, arns.catalog),
        _allow("AthenaWorkgroup", ATHENA_WORKGROUP, arns.workgroup),
        arns.list_bucket("ListAthenaResults", results_bucket, results_prefix),
        _allow(
            "AthenaResults",
            ["s3:GetObject", "s3:PutObject", "s3:GetBucketLocation"],
            [
                arns.objects(results_bucket, results_prefix),
                f"arn:{arns.partition}:s3:::{results_bucket}",
            ],
        ),
        # WarehouseResource.connect() on the Dagster side
        _allow("WarehouseSecretForChecks", GET_SECRET, arns.secret),
    ]
    if config.alert_topic_arn:  # climate_assets/defs/automation/alerts.py
        statements.append(_allow("PublishAlerts", "sns:Publish", config.alert_topic_arn))
    return statements


def iam_policies(config: DeployConfig, partition: str, account: str) -> dict[str, dict]:
    """File name -> policy document, for the Glue job role and the Dagster role."""
    arns = PolicyResources(config, partition, account)
    return {
        GLUE_ROLE_POLICY: {"Version": POLICY_VERSION, "Statement": glue_role_statements(arns)},
        DAGSTER_ROLE_POLICY: {
            "Version": POLICY_VERSION,
            "Statement": dagster_role_statements(arns),
        },
    }
