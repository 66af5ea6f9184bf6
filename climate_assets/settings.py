"""Where things live and which environment this is: the one place the environment is read.

Nothing here runs at import time; ``Settings.from_env()`` is called when Dagster loads the
definitions (and by the CLI), so a change to the environment takes effect at the next launch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from climate_glue.checks import DEFAULT_MAX_REJECT_RATE
from climate_glue.engines.base import DEFAULT_ENGINE, ENGINES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GLUE_SCRIPTS_DIR = PROJECT_ROOT / "glue_scripts"

ENV_STATE_DIR = "CLIMATE_STATE_DIR"
ENV_LAKE_ROOT = "CLIMATE_LAKE_ROOT"
ENV_WAREHOUSE_URL = "CLIMATE_WAREHOUSE_URL"
ENV_PARTITIONS_START = "CLIMATE_PARTITIONS_START"
ENV_SPARK_MASTER = "CLIMATE_SPARK_MASTER"
ENV_SPARK_DRIVER_MEMORY = "CLIMATE_SPARK_DRIVER_MEMORY"
ENV_SPARK_JAVA_OPTIONS = "CLIMATE_SPARK_JAVA_OPTIONS"
DEFAULT_SPARK_MASTER = "local[*]"
# The local Spark driver's heap. 1.5 GiB holds a 100 MB day (425,000 locations) within the
# 3 GiB the whole process tree may use; with 2 GiB the tree peaked at 3.1 GiB, no faster.
DEFAULT_DRIVER_MEMORY = "1536m"
ENV_MAX_REJECT_RATE = "CLIMATE_MAX_REJECT_RATE"
# Which engine runs the job scripts on the embedded default: duckdb (in-process, no JVM) or
# spark (local PySpark, for Glue parity). AWS Glue Spark jobs always run the Spark engine.
ENV_ENGINE = "CLIMATE_ENGINE"

# Any value but "" or "0" asks every command for Python tracebacks (as `--debug` does).
ENV_DEBUG = "CLIMATE_DEBUG"


def debug_requested() -> bool:
    """Whether tracebacks and Dagster's own error records were asked for."""
    return os.environ.get(ENV_DEBUG, "") not in ("", "0")


# Which environment: "local" (the embedded default) or "aws".
ENV_CLIMATE_ENV = "CLIMATE_ENV"
ENV_LOCAL = "local"
ENV_AWS = "aws"
ENVIRONMENTS = (ENV_LOCAL, ENV_AWS)

# AWS settings. Required ones are read by Dagster at launch (dg.EnvVar in environments.py);
# those with a default are read here.
ENV_AWS_REGION = "AWS_REGION"
ENV_LAKE_BUCKET = "CLIMATE_LAKE_BUCKET"
ENV_LAKE_PREFIX = "CLIMATE_LAKE_PREFIX"
ENV_SCRIPTS_BUCKET = "CLIMATE_SCRIPTS_BUCKET"
ENV_SCRIPTS_PREFIX = "CLIMATE_SCRIPTS_PREFIX"
ENV_PIPES_BUCKET = "CLIMATE_PIPES_BUCKET"
ENV_PIPES_PREFIX = "CLIMATE_PIPES_PREFIX"
ENV_RDS_SECRET_ID = "CLIMATE_RDS_SECRET_ID"
# Where the database is, when the secret does not say (a secret RDS manages holds only the
# username and password).
ENV_RDS_HOST = "CLIMATE_RDS_HOST"
ENV_RDS_PORT = "CLIMATE_RDS_PORT"
ENV_RDS_DATABASE = "CLIMATE_RDS_DATABASE"
ENV_RDS_SSLMODE = "CLIMATE_RDS_SSLMODE"  # libpq's sslmode; unset: the secret's, else require
ENV_GLUE_CONNECTION = "CLIMATE_GLUE_CONNECTION"
ENV_GLUE_ROLE_ARN = "CLIMATE_GLUE_ROLE_ARN"
ENV_ATHENA_WORKGROUP = "CLIMATE_ATHENA_WORKGROUP"
ENV_ATHENA_RESULTS = "CLIMATE_ATHENA_RESULTS"
ENV_DPU_HOUR_PRICE = "CLIMATE_GLUE_DPU_HOUR_PRICE"

DEFAULT_LAKE_PREFIX = "lake"
DEFAULT_SCRIPTS_PREFIX = "glue"
DEFAULT_PIPES_PREFIX = "dagster-pipes"
DEFAULT_ATHENA_WORKGROUP = "primary"
DEFAULT_DPU_HOUR_PRICE = 0.44  # dollars per DPU-hour (AWS Glue, us-east-1)

DEFAULT_PARTITIONS_START = "2010-01-01"
# DEFAULT_MAX_REJECT_RATE (share of a day's rows above which the reject_rate check fails) is the
# job library's, imported above: the jobs fall back to the same value.
DEFAULT_SENSOR_INTERVAL_SECONDS = 30

# Sensors and alerts.
ENV_SENSOR_INTERVAL = "CLIMATE_SENSOR_INTERVAL"
ENV_ALERT_TOPIC_ARN = "CLIMATE_ALERT_TOPIC_ARN"

# The variables that an environment's CloudFormation stack (infra/climate-assets.yaml) provides
# as outputs, and `climate-assets env --stack NAME` prints.
STACK_VARIABLES = (
    ENV_CLIMATE_ENV,
    ENV_AWS_REGION,
    ENV_LAKE_BUCKET,
    ENV_LAKE_PREFIX,
    ENV_SCRIPTS_BUCKET,
    ENV_SCRIPTS_PREFIX,
    ENV_PIPES_BUCKET,
    ENV_PIPES_PREFIX,
    ENV_RDS_SECRET_ID,
    ENV_RDS_HOST,
    ENV_RDS_PORT,
    ENV_RDS_DATABASE,
    ENV_GLUE_CONNECTION,
    ENV_GLUE_ROLE_ARN,
    ENV_ATHENA_WORKGROUP,
    ENV_ATHENA_RESULTS,
    ENV_ALERT_TOPIC_ARN,
)

# Retries of transient faults (climate_assets/steps/retries.py) and the write lease of an asset.
ENV_RETRY_MAX = "CLIMATE_RETRY_MAX"
ENV_RETRY_DELAY = "CLIMATE_RETRY_DELAY_SECONDS"
ENV_LEASE_TIMEOUT = "CLIMATE_LEASE_TIMEOUT_SECONDS"
# Most COPY streams a job opens into PostgreSQL at once; unset: the job takes a share of the
# server's free connections (climate_glue.copy_streams.default_copy_streams).
ENV_COPY_STREAMS = "CLIMATE_COPY_STREAMS"
# The most memory DuckDB may hold for one job on the DuckDB engine (DuckDB's ``memory_limit``);
# beyond it DuckDB spills to ``Settings.duckdb_temp_dir``. DuckDB's own default is 80% of the
# machine's memory, which let a 100 MB day's run grow to 1.8 GiB (bench/ANALYSIS.md, issue 21).
# With 768MB that run's whole process tree peaked at 1.19 GiB, spilling little; with 512MB at
# 1.05 GiB, for about 6% more CPU spent spilling.
ENV_DUCKDB_MEMORY_LIMIT = "CLIMATE_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY_LIMIT = "768MB"
DEFAULT_RETRY_MAX = 3
DEFAULT_RETRY_DELAY_SECONDS = 10.0
DEFAULT_LEASE_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    lake_root: Path
    partitions_start: str = DEFAULT_PARTITIONS_START
    spark_master: str = DEFAULT_SPARK_MASTER
    spark_driver_memory: str = DEFAULT_DRIVER_MEMORY
    spark_java_options: str = ""  # after the engine's own JVM options: these win
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE
    environment: str = ENV_LOCAL
    aws: AwsSettings | None = None  # read only when environment is "aws"
    sensor_interval_seconds: int = DEFAULT_SENSOR_INTERVAL_SECONDS
    alert_topic_arn: str | None = None  # SNS topic for run failure alerts; unset: log them
    engine: str = DEFAULT_ENGINE  # the local job scripts' engine (AWS Glue: always spark)
    # An existing PostgreSQL server (CLIMATE_WAREHOUSE_URL); None: the embedded one. Jobs read
    # it from their own environment (``env:`` reference), so it never goes into job arguments.
    warehouse_url: str | None = None
    retry_max: int = DEFAULT_RETRY_MAX  # retries of a Glue-backed step after a transient fault
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS  # first delay, doubled each time
    lease_timeout_seconds: float = DEFAULT_LEASE_TIMEOUT_SECONDS  # wait for another run's lease
    copy_streams: int | None = None  # a job's concurrent COPY streams; None: from the server
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT  # DuckDB's memory_limit, per job

    @property
    def pgdata(self) -> Path:
        """The embedded PostgreSQL's data folder (used when CLIMATE_WAREHOUSE_URL is unset)."""
        return self.state_dir / "pgdata"

    @property
    def athena_database(self) -> Path:
        """The DuckDB file that stands in for the Athena/Glue Data Catalog database."""
        return self.state_dir / "athena.duckdb"

    @property
    def duckdb_temp_dir(self) -> Path:
        """Where the DuckDB engine's jobs spill beyond their memory limit (a folder per job)."""
        return self.state_dir / "duckdb-tmp"

    @classmethod
    def from_env(cls) -> Settings:
        state = Path(os.environ.get(ENV_STATE_DIR) or PROJECT_ROOT / ".climate").resolve()
        lake = Path(os.environ.get(ENV_LAKE_ROOT) or state / "lake").resolve()
        return cls(
            state_dir=state,
            lake_root=lake,
            partitions_start=os.environ.get(ENV_PARTITIONS_START) or DEFAULT_PARTITIONS_START,
            spark_master=os.environ.get(ENV_SPARK_MASTER) or DEFAULT_SPARK_MASTER,
            spark_driver_memory=os.environ.get(ENV_SPARK_DRIVER_MEMORY) or DEFAULT_DRIVER_MEMORY,
            spark_java_options=os.environ.get(ENV_SPARK_JAVA_OPTIONS) or "",
            max_reject_rate=float(os.environ.get(ENV_MAX_REJECT_RATE) or DEFAULT_MAX_REJECT_RATE),
            environment=environment_name(),
            aws=AwsSettings.from_env() if environment_name() == ENV_AWS else None,
            sensor_interval_seconds=int(
                os.environ.get(ENV_SENSOR_INTERVAL) or DEFAULT_SENSOR_INTERVAL_SECONDS
            ),
            alert_topic_arn=os.environ.get(ENV_ALERT_TOPIC_ARN) or None,
            engine=engine_name(),
            warehouse_url=os.environ.get(ENV_WAREHOUSE_URL) or None,
            retry_max=int(os.environ.get(ENV_RETRY_MAX) or DEFAULT_RETRY_MAX),
            retry_delay_seconds=float(
                os.environ.get(ENV_RETRY_DELAY) or DEFAULT_RETRY_DELAY_SECONDS
            ),
            lease_timeout_seconds=float(
                os.environ.get(ENV_LEASE_TIMEOUT) or DEFAULT_LEASE_TIMEOUT_SECONDS
            ),
            copy_streams=copy_streams(),
            duckdb_memory_limit=duckdb_memory_limit(),
        )


def copy_streams() -> int | None:
    """``CLIMATE_COPY_STREAMS``: a whole number of at least 1, or unset."""
    text = (os.environ.get(ENV_COPY_STREAMS) or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{ENV_COPY_STREAMS}={text!r}: expected a whole number of at least 1")
    return int(text)


# A size as DuckDB reads one: a number and a unit (1.5GB, 512MiB).
_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


def duckdb_memory_limit() -> str:
    """``CLIMATE_DUCKDB_MEMORY_LIMIT``: a size with its unit, or unset (the default)."""
    text = (os.environ.get(ENV_DUCKDB_MEMORY_LIMIT) or "").strip()
    if not text:
        return DEFAULT_DUCKDB_MEMORY_LIMIT
    if not _SIZE.fullmatch(text):
        raise ValueError(
            f"{ENV_DUCKDB_MEMORY_LIMIT}={text!r}: expected a size with its unit, like 512MB or 2GB"
        )
    return text


def engine_name() -> str:
    """``CLIMATE_ENGINE``: "duckdb" (default) or "spark"; anything else is an error naming both."""
    name = (os.environ.get(ENV_ENGINE) or DEFAULT_ENGINE).strip().lower()
    if name not in ENGINES:
        raise ValueError(f"{ENV_ENGINE}={name!r}: expected one of {', '.join(ENGINES)}")
    return name


def environment_name() -> str:
    """``CLIMATE_ENV``: "local" (default) or "aws"; anything else is an error naming both."""
    name = (os.environ.get(ENV_CLIMATE_ENV) or ENV_LOCAL).strip().lower()
    if name not in ENVIRONMENTS:
        raise ValueError(f"{ENV_CLIMATE_ENV}={name!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return name


@dataclass(frozen=True)
class AwsSettings:
    """The AWS settings that have defaults, and (for ``deploy``, which runs outside Dagster)
    every AWS variable as set, None where unset."""

    lake_prefix: str
    scripts_prefix: str
    pipes_prefix: str
    athena_workgroup: str
    dpu_hour_price: float
    region: str | None
    lake_bucket: str | None
    scripts_bucket: str | None
    pipes_bucket: str | None
    rds_secret_id: str | None
    rds_host: str | None
    rds_port: int | None
    rds_database: str | None
    rds_sslmode: str | None
    glue_connection: str | None
    glue_role_arn: str | None
    athena_results: str | None
    alert_topic_arn: str | None  # the same variable as Settings', for the Dagster role's policy

    @classmethod
    def from_env(cls) -> AwsSettings:
        env = os.environ
        return cls(
            lake_prefix=env.get(ENV_LAKE_PREFIX, DEFAULT_LAKE_PREFIX).strip("/"),
            scripts_prefix=(env.get(ENV_SCRIPTS_PREFIX) or DEFAULT_SCRIPTS_PREFIX).strip("/"),
            pipes_prefix=(env.get(ENV_PIPES_PREFIX) or DEFAULT_PIPES_PREFIX).strip("/"),
            athena_workgroup=env.get(ENV_ATHENA_WORKGROUP) or DEFAULT_ATHENA_WORKGROUP,
            dpu_hour_price=float(env.get(ENV_DPU_HOUR_PRICE) or DEFAULT_DPU_HOUR_PRICE),
            region=env.get(ENV_AWS_REGION) or env.get("AWS_DEFAULT_REGION"),
            lake_bucket=env.get(ENV_LAKE_BUCKET),
            scripts_bucket=env.get(ENV_SCRIPTS_BUCKET),
            pipes_bucket=env.get(ENV_PIPES_BUCKET),
            rds_secret_id=env.get(ENV_RDS_SECRET_ID),
            rds_host=env.get(ENV_RDS_HOST) or None,
            rds_port=int(env[ENV_RDS_PORT]) if env.get(ENV_RDS_PORT) else None,
            rds_database=env.get(ENV_RDS_DATABASE) or None,
            rds_sslmode=env.get(ENV_RDS_SSLMODE) or None,
            glue_connection=env.get(ENV_GLUE_CONNECTION),
            glue_role_arn=env.get(ENV_GLUE_ROLE_ARN),
            athena_results=env.get(ENV_ATHENA_RESULTS),
            alert_topic_arn=env.get(ENV_ALERT_TOPIC_ARN) or None,
        )

    def require(self, *fields: str) -> None:
        """Fail naming every variable that these fields need and that is not set."""
        names = {
            "region": ENV_AWS_REGION,
            "lake_bucket": ENV_LAKE_BUCKET,
            "scripts_bucket": ENV_SCRIPTS_BUCKET,
            "pipes_bucket": ENV_PIPES_BUCKET,
            "rds_secret_id": ENV_RDS_SECRET_ID,
            "glue_connection": ENV_GLUE_CONNECTION,
            "glue_role_arn": ENV_GLUE_ROLE_ARN,
            "athena_results": ENV_ATHENA_RESULTS,
        }
        missing = [names[f] for f in fields if not getattr(self, f)]
        if missing:
            raise ValueError(f"set these environment variables first: {', '.join(missing)}")
