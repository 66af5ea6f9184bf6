"""Where things live and which environment this is: the one place the environment is read.

Nothing here runs at import time; ``Settings.from_env()`` is called when Dagster loads the
definitions (and by the CLI), so a change to the environment takes effect at the next launch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GLUE_SCRIPTS_DIR = PROJECT_ROOT / "glue_scripts"

ENV_STATE_DIR = "CLIMATE_STATE_DIR"
ENV_LAKE_ROOT = "CLIMATE_LAKE_ROOT"
ENV_WAREHOUSE_URL = "CLIMATE_WAREHOUSE_URL"
ENV_PARTITIONS_START = "CLIMATE_PARTITIONS_START"
ENV_SPARK_MASTER = "CLIMATE_SPARK_MASTER"
ENV_SPARK_DRIVER_MEMORY = "CLIMATE_SPARK_DRIVER_MEMORY"
ENV_SENSOR_INTERVAL = "CLIMATE_SENSOR_INTERVAL"
ENV_ALERT_TOPIC_ARN = "CLIMATE_ALERT_TOPIC_ARN"

DEFAULT_PARTITIONS_START = "2010-01-01"
DEFAULT_SENSOR_INTERVAL_SECONDS = 30


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    lake_root: Path
    warehouse_url_set: bool
    partitions_start: str
    spark_master: str
    spark_driver_memory: str
    sensor_interval_seconds: int = DEFAULT_SENSOR_INTERVAL_SECONDS
    alert_topic_arn: str | None = None  # SNS topic for run failure alerts; unset: log them

    @property
    def pgdata(self) -> Path:
        """The embedded PostgreSQL's data folder (used when CLIMATE_WAREHOUSE_URL is unset)."""
        return self.state_dir / "pgdata"

    @property
    def athena_database(self) -> Path:
        """The DuckDB file that stands in for the Athena/Glue Data Catalog database."""
        return self.state_dir / "athena.duckdb"

    @classmethod
    def from_env(cls) -> Settings:
        state = Path(os.environ.get(ENV_STATE_DIR) or PROJECT_ROOT / ".climate").resolve()
        lake = Path(os.environ.get(ENV_LAKE_ROOT) or state / "lake").resolve()
        return cls(
            state_dir=state,
            lake_root=lake,
            warehouse_url_set=bool(os.environ.get(ENV_WAREHOUSE_URL)),
            partitions_start=os.environ.get(ENV_PARTITIONS_START) or DEFAULT_PARTITIONS_START,
            spark_master=os.environ.get(ENV_SPARK_MASTER) or "local[*]",
            spark_driver_memory=os.environ.get(ENV_SPARK_DRIVER_MEMORY) or "2g",
            sensor_interval_seconds=int(
                os.environ.get(ENV_SENSOR_INTERVAL) or DEFAULT_SENSOR_INTERVAL_SECONDS
            ),
            alert_topic_arn=os.environ.get(ENV_ALERT_TOPIC_ARN) or None,
        )
