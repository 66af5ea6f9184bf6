"""Accepting a held judgement check, on the record (contract section 5): a day whose row count
fell (a wrong file taken out) is held back, the held message says how to accept it with the
band it fell outside; ``materialize --accept ... --reason ...`` publishes it, the check shows
what was accepted, by whom and why, and the next run's row-count history counts that day."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import date

import dagster as dg
import pytest

from climate_assets.defs.quality.checks import AcceptError, acceptance, parse_accept
from climate_cli.generate import generate_landing_zone
from tests.support import run_cli

pytestmark = pytest.mark.e2e

D1, D2, D3 = "2024-07-01", "2024-07-02", "2024-07-03"
CLIMATE = dg.AssetKey("climate_data")


def test_rule_checks_cannot_be_accepted_and_a_reason_is_required():
    with pytest.raises(AcceptError, match="unique_key cannot be accepted"):
        parse_accept("climate_data:unique_key")
    with pytest.raises(AcceptError, match="needs a reason"):
        acceptance({"climate/accept": "climate_data:row_count"}, ["climate_data"], "h")
    tags = {  # what the UI's launchpad sets: the run tags, no CLI involved
        "climate/accept": "climate_data:row_count@2024-07-02, health_data:reject_rate",
        "climate/accept_reason": "coverage grew",
    }
    assert acceptance(tags, ["climate_data"], "host-1") == {
        "accepted": {"climate_data:row_count": ["2024-07-02"]},
        "accept_reason": "coverage grew",
        "accepted_by": "a launch on host-1",
    }


def _row_count_evaluations(instance) -> list:
    """climate_data's row_count evaluations, newest first."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(CLIMATE, "row_count"), limit=10
    )
    return [
        h.event.dagster_event.event_specific_data
        for h in history
        if h.event is not None
        and h.event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]


def test_a_held_day_is_accepted_on_the_record_and_counts_in_history(tmp_path, monkeypatch):
    state = tmp_path / "state"
    lake = state / "lake"
    generate_landing_zone(lake, locations=4, days=3, start=date(2024, 7, 1), seed=3)
    day2 = lake / f"raw/climate/date={D2}/climate.csv"
    day2.write_text("\n".join(day2.read_text().splitlines()[:2]) + "\n")  # 1 row of 4
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIMATE_")}
    env["CLIMATE_STATE_DIR"] = str(state)

    def materialize(select: str, day: str, *extra: str):
        return run_cli(
            env, "materialize", "--in-process", "--select", select, "--from", day, *extra
        )

    assert materialize("locations,climate_data", D1).returncode == 0
    held = materialize("climate_data", D2)
    assert held.returncode == 1, held.stdout + held.stderr
    assert (
        f"    {D2}: rows 1 outside 2..8 (half to twice the median of the last 1 runs)"
        in held.stdout
    )
    assert (
        f"climate-assets materialize --select climate_data --from {D2} --to {D2}"
        " --accept climate_data:row_count --reason '...'" in held.stdout
    )
    assert "climate/accept=climate_data:row_count" in held.stdout

    reason = "a wrong file was taken out of the day"
    accepted = materialize(
        "climate_data", D2, "--accept", f"climate_data:row_count@{D2}", "--reason", reason
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert materialize("climate_data", D3).returncode == 0

    from climate_assets.instance import instance_environment

    monkeypatch.setenv("CLIMATE_STATE_DIR", str(state))
    monkeypatch.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
    for name, value in instance_environment().items():
        monkeypatch.setenv(name, value)
    record = {
        "by": f"{getpass.getuser()}@{socket.gethostname()}",
        "days": [D2],
        "reason": reason,
    }
    with dg.DagsterInstance.get() as instance:
        newest_first = instance.fetch_materializations(CLIMATE, limit=10).records
        by_day = {}
        for r in newest_first:
            by_day.setdefault(r.partition_key, []).append(r.asset_materialization.metadata)
        assert by_day[D2][0]["accepted"].value == {"row_count": record}
        latest, accepted_check = _row_count_evaluations(instance)[:2]
    assert accepted_check.passed
    assert accepted_check.metadata["accepted"].value == record
    # D3's history: D1's 4 rows and the accepted D2's 1 (the held run of D2 is not history).
    assert latest.metadata["history_materializations"].value == 2
    assert latest.metadata["history_median_rows_per_day"].value == 2.5
