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

from climate_assets.constants import GLUE_JOB_SCRIPTS, JOB_DERIVED_METRICS
from climate_assets.settings import GLUE_SCRIPTS_DIR, AwsSettings

GLUE_VERSION = "5.0"
LIBRARY_PACKAGE = "climate_glue"
LIBRARY_ZIP = f"{LIBRARY_PACKAGE}.zip"
HASH_METADATA = "sha256"  # S3 user metadata holding an artifact's content hash
GLUE_LOG_GROUPS = "/aws-glue/jobs"  # Glue 5.0 writes to /aws-glue/jobs/output and .../error
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources make the same zip


@dataclass(frozen=True)
class JobSize:
    """How a Glue job runs: worker type and count, timeout, concurrent runs."""

    worker_type: str = "G.1X"
    workers: int = 2
    timeout_minutes: int = 60
    max_concurrent_runs: int = 4  # a backfill of several ranges may run a job in parallel


DEFAULT_SIZE = JobSize()
# The derived-metrics job joins three datasets and writes three outputs in three formats.
JOB_SIZES: dict[str, JobSize] = {JOB_DERIVED_METRICS: JobSize(timeout_minutes=120)}


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
    files = {script: (scripts_dir / script).read_bytes() for script in GLUE_JOB_SCRIPTS.values()}
    files[LIBRARY_ZIP] = library_zip(scripts_dir)
    return files


def python_modules() -> str:
    """``--additional-python-modules``: the job side's packages Glue 5.0 does not ship, pinned
    to the versions this project runs locally."""
    return f"dagster-pipes=={version('dagster-pipes')},psycopg[binary]=={version('psycopg')}"


def job_definition(config: DeployConfig, job_name: str) -> dict[str, Any]:
    """A Glue job as ``create_job`` takes it (without ``Name``) and ``update_job``'s JobUpdate."""
    size = JOB_SIZES.get(job_name, DEFAULT_SIZE)
    script = GLUE_JOB_SCRIPTS[job_name]
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
            "--engine": "spark",  # a Glue Spark job runs the Spark engine, even started by hand
            "--additional-python-modules": python_modules(),
            "--extra-py-files": config.s3_uri(config.script_key(LIBRARY_ZIP)),
        },
        "Connections": {"Connections": [config.glue_connection]},
        "MaxRetries": 0,  # Dagster owns retries
        "Timeout": size.timeout_minutes,
        "ExecutionProperty": {"MaxConcurrentRuns": size.max_concurrent_runs},
        "WorkerType": size.worker_type,
        "NumberOfWorkers": size.workers,
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
    for job_name in GLUE_JOB_SCRIPTS:
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


def iam_policies(config: DeployConfig, partition: str, account: str) -> dict[str, dict]:
    """File name -> policy document, for the Glue job role and the Dagster role."""
    region = config.region
    arn = f"arn:{partition}"
    jobs = [f"{arn}:glue:{region}:{account}:job/{name}" for name in GLUE_JOB_SCRIPTS]
    logs = f"{arn}:logs:{region}:{account}:log-group:{GLUE_LOG_GROUPS}/*"
    secret = _secret_arn(config, partition, account)
    lake_objects = _objects(config.lake_bucket, config.lake_prefix, partition)
    pipes_objects = _objects(config.pipes_bucket, config.pipes_prefix, partition)
    results_bucket, results_prefix = _s3_uri_parts(config.athena_results)
    catalog = [f"{arn}:glue:{region}:{account}:catalog"]
    for database in config.databases:
        catalog += [
            f"{arn}:glue:{region}:{account}:database/{database}",
            f"{arn}:glue:{region}:{account}:table/{database}/*",
        ]
    glue_role = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadJobScripts",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": _objects(config.scripts_bucket, config.scripts_prefix, partition),
            },
            _list_bucket("ListLake", config.lake_bucket, config.lake_prefix, partition),
            {
                "Sid": "ReadWriteLake",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",  # Spark's large Parquet files
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": lake_objects,
            },
            {
                "Sid": "PipesContextAndMessages",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": pipes_objects,
            },
            {
                "Sid": "ReadWarehouseSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret,
            },
            {
                "Sid": "UseRdsConnection",
                "Effect": "Allow",
                "Action": "glue:GetConnection",
                "Resource": [
                    f"{arn}:glue:{region}:{account}:catalog",
                    f"{arn}:glue:{region}:{account}:connection/{config.glue_connection}",
                ],
            },
            {
                "Sid": "ConnectionNetworkInterfaces",  # EC2 grants these on "*" only
                "Effect": "Allow",
                "Action": [
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
                ],
                "Resource": "*",
            },
            {
                "Sid": "JobLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [logs, f"{logs}:*"],
            },
        ],
    }
    dagster_role = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RunGlueJobs",
                "Effect": "Allow",
                "Action": [
                    "glue:StartJobRun",
                    "glue:GetJobRun",
                    "glue:GetJobRuns",
                    "glue:BatchStopJobRun",
                    "glue:GetJob",
                ],
                "Resource": jobs,
            },
            _list_bucket("ListPipes", config.pipes_bucket, config.pipes_prefix, partition),
            {
                "Sid": "PipesContextAndMessages",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": pipes_objects,
            },
            _list_bucket("ListLake", config.lake_bucket, config.lake_prefix, partition),
            {
                "Sid": "ReadLake",  # sensors, Athena queries
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": lake_objects,
            },
            {
                "Sid": "QuarantineLandingFiles",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": [
                    _objects(
                        config.lake_bucket,
                        "/".join(p for p in (config.lake_prefix, sub) if p),
                        partition,
                    )
                    for sub in ("raw", "quarantine")
                ],
            },
            {
                "Sid": "DriverLogs",
                "Effect": "Allow",
                "Action": ["logs:GetLogEvents", "logs:DescribeLogStreams"],
                "Resource": [logs, f"{logs}:*"],
            },
            {
                "Sid": "AthenaTables",
                "Effect": "Allow",
                "Action": [
                    "glue:GetDatabase",
                    "glue:CreateDatabase",
                    "glue:GetTable",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:GetPartitions",
                ],
                "Resource": catalog,
            },
            {
                "Sid": "AthenaWorkgroup",
                "Effect": "Allow",
                "Action": [
                    "athena:CreateNamedQuery",
                    "athena:UpdateNamedQuery",
                    "athena:GetNamedQuery",
                    "athena:ListNamedQueries",
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:GetWorkGroup",
                ],
                "Resource": f"{arn}:athena:{region}:{account}:workgroup/{config.athena_workgroup}",
            },
            _list_bucket("ListAthenaResults", results_bucket, results_prefix, partition),
            {
                "Sid": "AthenaResults",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:GetBucketLocation"],
                "Resource": [
                    _objects(results_bucket, results_prefix, partition),
                    f"{arn}:s3:::{results_bucket}",
                ],
            },
            {
                "Sid": "WarehouseSecretForChecks",  # WarehouseResource.connect() on the Dagster side
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret,
            },
        ],
    }
    if config.alert_topic_arn:
        dagster_role["Statement"].append(
            {
                "Sid": "PublishAlerts",  # climate_assets/defs/automation/alerts.py
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": config.alert_topic_arn,
            }
        )
    return {"glue-job-role-policy.json": glue_role, "dagster-role-policy.json": dagster_role}
