"""Retries: transient faults are retried with backoff, data faults never.

The classification is a pure function of the error text (unit tests below, on the texts that
psycopg, botocore, PipesGlueClient and the jobs really produce). The end-to-end tests make the
warehouse's PostgreSQL unreachable for real: the warehouse URL points at a TCP gate in front
of an embedded server, and the test closes the gate (new connections are refused) while the
job runs, then opens it again; or never opens it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from climate_glue.warehouse import EMBEDDED_DATABASE

from climate_assets.constants import CLIMATE_DATA, LOCATIONS
from climate_assets.defs.automation.alerts import FAILURE_SENSOR, LogAlerts, run_failure_alerts
from climate_assets.resources.embedded_postgres import embedded_server
from climate_assets.resources.warehouse import ensure_database
from climate_assets.steps.retries import DATA, TRANSIENT, UNKNOWN, classify, glue_retry_policy
from climate_cli.generate import generate_landing_zone
from tests.support import materialize_days

GLUE = "Glue job process-climate-data run jr_1 completed with status FAILED :\n"


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        (
            GLUE + 'OperationalError: connection failed: connection to server at "127.0.0.1", '
            "port 5433 failed: Connection refused\n\tIs the server running on that host?",
            TRANSIENT,
            "PostgreSQL unreachable",
        ),
        (
            GLUE + "OperationalError: connection failed: FATAL:  sorry, too many clients already",
            TRANSIENT,
            "PostgreSQL out of connections",
        ),
        (
            GLUE + "ClientError: An error occurred (SlowDown) when calling the PutObject "
            "operation (reached max retries: 9): Please reduce your request rate.",
            TRANSIENT,
            "AWS throttling",
        ),
        (
            GLUE + "ClientError: An error occurred (InternalError) when calling the "
            "CopyObject operation: We encountered an internal error. Please try again.",
            TRANSIENT,
            "AWS service error (5xx)",
        ),
        (
            GLUE + "Py4JJavaError: ... AWSServiceException: Slow Down (Service: Amazon S3; "
            "Status Code: 503; Error Code: ServiceUnavailable)",
            TRANSIENT,
            "AWS service error (5xx)",
        ),
        (
            "ClientError: An error occurred (ConcurrentRunsExceededException) when calling the "
            "StartJobRun operation: Concurrent runs exceeded for process-climate-data",
            TRANSIENT,
            "Glue concurrent runs exceeded",
        ),
        (
            "ClientError: An error occurred (ThrottlingException) when calling the StartJobRun "
            "operation (reached max retries: 9): Rate exceeded",
            TRANSIENT,
            "AWS throttling",
        ),
        (
            "DagsterPipesExecutionError: Timed out waiting for PipesS3MessageReader "
            "messages thread to finish.",
            TRANSIENT,
            "Pipes message read lost",
        ),
        (
            GLUE + "RawFilesError: 1 raw file(s) cannot be read as the contract says and were "
            "quarantined: raw/climate/date=2024-07-01/x.csv: connection refused in header",
            DATA,
            "quarantine (raw files that cannot be read as the contract says)",
        ),
        (
            GLUE + "UpstreamMissingError: _staging/r/processed/hospital_data has no partition "
            "for 1 day(s): 2024-07-01; materialize it for those days first",
            DATA,
            "missing upstream partition",
        ),
        (GLUE + "ValueError: missing required column(s): date", UNKNOWN, None),
        (GLUE + "IndexError: list index out of range", UNKNOWN, None),
    ],
)
def test_faults_are_classified_from_their_text(text, kind, reason):
    fault = classify(text)
    assert fault.kind == kind
    if reason:
        assert fault.reason == reason
    assert fault.retryable == (kind == TRANSIENT)


def test_an_exception_chain_is_classified_by_every_link():
    try:
        try:
            psycopg.connect("host=127.0.0.1 port=9 dbname=x connect_timeout=2")
        except psycopg.OperationalError as exc:
            raise RuntimeError("loading climate_data") from exc
    except RuntimeError as exc:
        fault = classify(exc)
    assert (fault.kind, fault.reason) == (TRANSIENT, "PostgreSQL unreachable")
    assert classify(dg.Failure("x", allow_retries=False)).kind == DATA


def test_the_policy_backs_off_exponentially_with_jitter():
    policy = glue_retry_policy(3, 10)
    assert policy.max_retries == 3
    assert policy.backoff == dg.Backoff.EXPONENTIAL
    assert policy.jitter == dg.Jitter.PLUS_MINUS
    for attempt, middle in ((1, 10), (2, 30), (3, 70)):  # (2^n - 1) x delay, +/- delay
        delays = [policy.calculate_delay(attempt) for _ in range(20)]
        assert all(middle - 10 <= d <= middle + 10 for d in delays)
        assert len(set(delays)) > 1  # jitter


# --- end to end: PostgreSQL unreachable for a while, or for good -----------------------------


class Gate:
    """A TCP port in front of PostgreSQL's Unix socket. Closed: new connections are refused
    (nothing listens); connections made while it was open keep working."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread (Linux)
            except OSError:
                pass
            self._listener.close()
            self._listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.socket_path)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def gated_warehouse(tmp_path, monkeypatch):
    """An embedded PostgreSQL reached only through a gate; the warehouse URL names the gate."""
    server = embedded_server(str(tmp_path / "gated-pg"))
    admin = server.get_uri("postgres")
    ensure_database(admin, EMBEDDED_DATABASE)
    [socket_path] = [
        p for p in Path(tmp_path / "gated-pg").glob(".s.PGSQL.*") if p.suffix != ".lock"
    ]
    gate = Gate(str(socket_path))
    monkeypatch.setenv(
        "CLIMATE_WAREHOUSE_URL", f"postgresql://postgres@127.0.0.1:{gate.port}/{EMBEDDED_DATABASE}"
    )
    monkeypatch.setenv("CLIMATE_STATE_DIR", str(tmp_path))
    generate_landing_zone(tmp_path / "lake", locations=3, days=1, start=date(2024, 1, 15), seed=5)
    yield gate, admin
    gate.close()


def _leases(admin: str) -> int:
    with psycopg.connect(admin) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'climate-lease:%'"
        ).fetchone()[0]


def _events(instance, run_id: str, event_type) -> list:
    return instance.get_records_for_run(run_id, of_type=event_type).records


@pytest.mark.e2e
def test_postgres_unreachable_during_a_load_is_retried_and_the_run_succeeds(
    gated_warehouse, tmp_path, monkeypatch
):
    gate, admin = gated_warehouse
    monkeypatch.setenv("CLIMATE_RETRY_MAX", "5")
    monkeypatch.setenv("CLIMATE_RETRY_DELAY_SECONDS", "1")
    gate.open()

    def outage() -> None:
        """Once the first job holds its lease, refuse new connections until that attempt has
        ended (its load could not connect) and 2 s more, then let them through again."""
        deadline = time.monotonic() + 300
        while _leases(admin) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        gate.close()
        while _leases(admin) > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)
        gate.open()

    disruptor = threading.Thread(target=outage, daemon=True)
    disruptor.start()
    with dg.instance_for_test() as instance:
        result, event_log = materialize_days(
            tmp_path, "2024-01-15", "2024-01-15", [LOCATIONS, CLIMATE_DATA], instance
        )
        retried = _events(instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    disruptor.join()
    assert result.success, event_log[-3000:]
    assert retried, "the step was not retried"
    assert "transient fault: PostgreSQL unreachable" in event_log
    # The first attempt failed in the job's load, not before it.
    assert "process-locations run jr_local_" in event_log and "Connection refused" in event_log
    with psycopg.connect(admin.replace("/postgres?", f"/{EMBEDDED_DATABASE}?")) as conn:
        rows = conn.execute("SELECT count(*) FROM climate_health.climate_data").fetchone()[0]
    assert rows == 3


def test_postgres_unreachable_past_the_budget_fails_once_and_the_alert_says_so(
    gated_warehouse, tmp_path, monkeypatch, caplog
):
    _gate, _ = gated_warehouse  # never opened
    monkeypatch.setenv("CLIMATE_RETRY_MAX", "2")
    monkeypatch.setenv("CLIMATE_RETRY_DELAY_SECONDS", "0.2")
    with dg.instance_for_test() as instance:
        result, _ = materialize_days(tmp_path, "2024-01-15", "2024-01-15", [LOCATIONS], instance)
        assert not result.success
        retries = _events(instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)
        failures = _events(instance, result.run_id, dg.DagsterEventType.STEP_FAILURE)
        assert (len(retries), len(failures)) == (2, 1)
        assert len(_events(instance, result.run_id, dg.DagsterEventType.RUN_FAILURE)) == 1
        context = dg.build_run_status_sensor_context(
            sensor_name=FAILURE_SENSOR,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"alerts": LogAlerts()},
        ).for_run_failure()
        with caplog.at_level(logging.ERROR, logger="climate_assets.defs.automation.alerts"):
            run_failure_alerts(context)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name == "climate_assets.defs.automation.alerts"
    )
    assert "Assets: locations" in logged
    assert "Partitions: 2024-01-15" in logged
    assert "transient fault: PostgreSQL unreachable; retried 2 time(s), then failed" in logged
    assert "Connection refused" in logged


def test_a_data_fault_is_not_retried(tmp_path, monkeypatch):
    """A quarantine (the job raises RawFilesError) fails the step at once, with no retry."""
    monkeypatch.setenv("CLIMATE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("CLIMATE_RETRY_DELAY_SECONDS", "0.2")
    (tmp_path / "lake/raw/locations").mkdir(parents=True)
    (tmp_path / "lake/raw/locations/locations.csv").write_bytes(b"\xef\xbb\xbf")  # only a BOM
    with dg.instance_for_test() as instance:
        result, event_log = materialize_days(
            tmp_path, "2024-01-15", "2024-01-15", [LOCATIONS], instance
        )
        retries = _events(instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert not result.success
    assert retries == []
    assert "(not retried)" in event_log
