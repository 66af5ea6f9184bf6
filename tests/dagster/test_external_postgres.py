"""The external-database path: CLIMATE_WAREHOUSE_URL names an existing server, as RDS would be.

Runs against the PostgreSQL server of CLIMATE_TEST_EXTERNAL_PG_URL (default: the machine's
server on 127.0.0.1:5432), in a database made for the test and dropped after it. The URL carries
a password; it must reach the jobs through their environment only, never through job arguments,
Dagster's event log or the logs.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from climate_cli.generate import generate_landing_zone
from tests.support import EXTERNAL_PG_URL, materialize_days

pytestmark = [pytest.mark.external_postgres, pytest.mark.e2e]

PASSWORD = "not-a-real-secret-7f3a"  # trust auth ignores it; it must still never be shown


@pytest.fixture
def warehouse_url(external_database):
    """The URL of a new database on the external server, with a password in it."""
    params = external_database("climate_it")
    return psycopg.conninfo.make_conninfo(**{**params, "password": PASSWORD})


def test_graph_loads_into_an_external_server_without_showing_its_password(
    warehouse_url, tmp_path, monkeypatch, capfd
):
    monkeypatch.setenv("CLIMATE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("CLIMATE_WAREHOUSE_URL", warehouse_url)
    generate_landing_zone(tmp_path / "lake", locations=3, days=1, start=date(2024, 1, 15), seed=3)
    result, event_log = materialize_days(tmp_path, "2024-01-15", "2024-01-15")
    assert result.success
    with psycopg.connect(warehouse_url) as conn:
        counts = dict(
            conn.execute(
                "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE schemaname = 'climate_health'"
            ).fetchall()
        )
        rows = conn.execute("SELECT count(*) FROM climate_health.resilience_scores").fetchone()[0]
    assert rows == 3
    assert set(counts) == {
        "locations", "climate_data", "health_data", "hospital_data",
        "health_risks", "hospital_resources", "resilience_scores",
    }  # fmt: skip
    assert not (tmp_path / "pgdata").exists()  # no embedded server was started
    captured = capfd.readouterr()
    assert PASSWORD not in event_log
    assert PASSWORD not in captured.out + captured.err


@pytest.fixture
def two_deployments(external_database):
    """Two warehouse databases on one server (named for this test's author), dropped after,
    with the instance databases the deployments create beside them."""
    databases = [external_database("operator_a"), external_database("operator_b")]
    names = [params["dbname"] for params in databases]
    return names, [psycopg.conninfo.make_conninfo(**params) for params in databases]


def test_two_deployments_on_one_server_never_see_each_others_runs(
    two_deployments, tmp_path, monkeypatch
):
    """Each deployment's Dagster instance lives in <warehouse database>_dagster: a run of one
    is not a run of the other, and neither inherits the other's history."""
    import dagster as dg

    from climate_assets.constants import LOCATIONS
    from climate_assets.instance import instance_environment

    names, urls = two_deployments
    for name, value in instance_environment().items():
        monkeypatch.setenv(name, value)

    def deployment(index: int):
        state = tmp_path / names[index]
        monkeypatch.setenv("CLIMATE_STATE_DIR", str(state))
        monkeypatch.setenv("CLIMATE_WAREHOUSE_URL", urls[index])
        return state

    state_a = deployment(0)
    generate_landing_zone(state_a / "lake", locations=3, days=1, start=date(2024, 1, 15), seed=3)
    with dg.DagsterInstance.get() as instance:
        result, _ = materialize_days(state_a, "2024-01-15", "2024-01-15", [LOCATIONS], instance)
        assert result.success
        runs_a = {r.run_id for r in instance.get_runs()}
    assert runs_a == {result.run_id}

    state_b = deployment(1)
    generate_landing_zone(state_b / "lake", locations=5, days=1, start=date(2024, 1, 15), seed=4)
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []  # nothing of deployment A
        assert instance.fetch_materializations(LOCATIONS, limit=5).records == []
        result_b, _ = materialize_days(state_b, "2024-01-15", "2024-01-15", [LOCATIONS], instance)
        assert result_b.success
        assert {r.run_id for r in instance.get_runs()} == {result_b.run_id}

    deployment(0)
    with dg.DagsterInstance.get() as instance:
        assert {r.run_id for r in instance.get_runs()} == runs_a  # nothing of deployment B
    with psycopg.connect(EXTERNAL_PG_URL) as conn:
        databases = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert {f"{n}_dagster" for n in names} <= databases
