"""The project's Dagster instance: dagster.yaml at the project root, storage in PostgreSQL.

The instance lives on the same PostgreSQL server as the warehouse, in a database of its own
that belongs to the warehouse database it serves: ``<warehouse database>_dagster`` on the
server of CLIMATE_WAREHOUSE_URL (``climate`` -> ``climate_dagster``), so two deployments on one
server (dev and prod on one RDS, say) never see each other's runs, sensor cursors or check
history; ``dagster`` on the embedded server, which serves one deployment (its state folder).
``ProjectPostgresStorage`` (named in dagster.yaml) finds that server itself, so every Dagster
command run in the project (``dg dev``, ``dg check defs``, plain ``dagster`` commands, the daemon,
run workers) uses the same instance; ``.env`` at the project root gives them ``DAGSTER_HOME``.

Loading the instance also makes the process write a ranged run's records in batches
(``batch_event_writes``): a backfill of a year records one materialization and one planned
materialization per day and asset, and Dagster writes those one at a time (a new PostgreSQL
connection or three each) unless ``DAGSTER_EVENT_BATCH_SIZE`` is set in the process that
writes them. The storage writes a batch of planned events in one statement
(``climate_assets.dagster_compat.PlannedBatchEventLogStorage``).
"""

from __future__ import annotations

import os

import psycopg
from climate_glue.warehouse import EMBEDDED_DATABASE, resolve_dsn
from dagster import Field
from dagster_postgres import DagsterPostgresStorage

from climate_assets.dagster_compat import (
    PlannedBatchEventLogStorage,
    fix_time_window_subset_inequality,
)
from climate_assets.resources.embedded_postgres import DAGSTER_DATABASE, embedded_server
from climate_assets.resources.warehouse import ensure_database
from climate_assets.settings import ENV_WAREHOUSE_URL, PROJECT_ROOT, Settings

INSTANCE_SUFFIX = "_dagster"  # on CLIMATE_WAREHOUSE_URL's server: <warehouse database>_dagster
MAX_IDENTIFIER = 63  # PostgreSQL's longest name
# The storage's connections (see ``ProjectPostgresStorage``): one kept open per storage, up to
# this many more at once for concurrent users (threads), closed when given back; the kept one is
# replaced after an hour (Dagster's webserver defaults). No statement timeout (0), as before.
POOL_MAX_OVERFLOW = 20
POOL_RECYCLE_SECONDS = 3600
NO_STATEMENT_TIMEOUT = 0
# Dagster reads this in the process that writes a run's events (at each event, not at import).
EVENT_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE"
# Records per write: a year of days of one asset in one batch (Dagster's default 0: one by one).
EVENT_BATCH = 1000


def _with_database(url: str, database: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**params)


def sqlalchemy_url(dsn: str) -> str:
    """A psycopg2 SQLAlchemy URL for dagster-postgres (SQLAlchemy 2.1 needs the driver named)."""
    from sqlalchemy.engine import URL

    params = psycopg.conninfo.conninfo_to_dict(dsn)
    standard = ("user", "password", "host", "port", "dbname")
    query = {k: v for k, v in params.items() if k not in standard}
    host = params.get("host")
    if host and host.startswith("/"):  # a Unix socket folder goes in the query string
        query["host"] = host
        host = None
    url = URL.create(
        "postgresql+psycopg2",
        username=params.get("user"),
        password=params.get("password"),
        host=host,
        port=int(params["port"]) if params.get("port") else None,
        database=params.get("dbname"),
        query=query,
    )
    return url.render_as_string(hide_password=False)


def server_admin_dsn(settings: Settings) -> str:
    """A connection to the server's maintenance database; starts the embedded server if used."""
    if settings.warehouse_url:  # read as the jobs read it (a SQLAlchemy URL is accepted too)
        return resolve_dsn(f"env:{ENV_WAREHOUSE_URL}")
    server = embedded_server(str(settings.pgdata))  # kept alive for this process by pgserver
    admin = server.get_uri("postgres")
    ensure_database(admin, EMBEDDED_DATABASE)
    return admin


def instance_database(settings: Settings, admin_dsn: str) -> str:
    """The database of the deployment's Dagster instance (see the module's docstring)."""
    if not settings.warehouse_url:
        return DAGSTER_DATABASE
    warehouse = psycopg.conninfo.conninfo_to_dict(admin_dsn).get("dbname") or "postgres"
    return f"{warehouse[: MAX_IDENTIFIER - len(INSTANCE_SUFFIX)]}{INSTANCE_SUFFIX}"


def dagster_storage_url(settings: Settings) -> str:
    admin = server_admin_dsn(settings)
    database = instance_database(settings, admin)
    ensure_database(admin, database)
    return sqlalchemy_url(_with_database(admin, database))


def batch_event_writes() -> None:
    """Write batchable records (a ranged run's materializations, a run's planned events) in
    batches of ``EVENT_BATCH`` in this process, unless ``DAGSTER_EVENT_BATCH_SIZE`` is set.

    Set where the instance is loaded: every process that writes the project's events loads it
    first (a run worker, an in-process run of the CLI or the demo, the daemon and the webserver,
    which create runs and so write their planned events), and a run worker started by the
    daemon's run launcher inherits it too."""
    os.environ.setdefault(EVENT_BATCH_SIZE, str(EVENT_BATCH))


class ProjectPostgresStorage(DagsterPostgresStorage):
    """dagster-postgres storage in the instance's database on the project's server.

    Its event log writes a batch of planned events in one statement
    (``PlannedBatchEventLogStorage``). Its run, event log and schedule storages keep a
    connection open: dagster-postgres opens a new one per statement otherwise (SQLAlchemy's
    ``NullPool``), and a run writes every event through its own connection, a PostgreSQL
    backend started and stopped each time (about 2.4 of the 3.4 CPU seconds PostgreSQL spent on
    a one-day run of the whole graph, bench/ANALYSIS.md). ``optimize_for_webserver`` is the
    public switch dagster-postgres has for that (the webserver calls it with its own settings,
    which then apply there).
    """

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data)
        # The tables exist now (the event log storage above made them when missing).
        self._event_log = PlannedBatchEventLogStorage(postgres_url, should_autocreate_tables=False)
        for storage in (self.run_storage, self.event_log_storage, self.schedule_storage):
            storage.optimize_for_webserver(
                statement_timeout=NO_STATEMENT_TIMEOUT,
                pool_recycle=POOL_RECYCLE_SECONDS,
                max_overflow=POOL_MAX_OVERFLOW,
            )

    @property
    def event_log_storage(self) -> PlannedBatchEventLogStorage:
        return self._event_log

    @classmethod
    def config_type(cls):
        return {"should_autocreate_tables": Field(bool, is_required=False, default_value=True)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        # Every process that loads the instance: the webserver's backfill launch needs it.
        fix_time_window_subset_inequality()
        batch_event_writes()
        return cls(
            postgres_url=dagster_storage_url(Settings.from_env()),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
        )


def instance_environment() -> dict[str, str]:
    """What a process needs to use the project's instance: DAGSTER_HOME at the project root."""
    return {"DAGSTER_HOME": str(PROJECT_ROOT)}
