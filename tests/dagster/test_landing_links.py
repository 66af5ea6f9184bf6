"""The landing zone reads only regular files inside the lake (contract section 1): a symbolic
link (to a file or a folder) is quarantined with its reason and its target is never read,
written or moved, by the arrival sensors, the job scripts' intake, ``upload`` and ``generate``."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from climate_glue.contract import CLIMATE
from climate_glue.lake import LocalLake, NotInLakeError
from climate_glue.quarantine import REASON_SUFFIX

from climate_assets.defs.automation.arrival_sensor import arrival_sensor
from climate_assets.partitions import daily_partitions
from climate_assets.resources.lake import LocalLakeResource
from climate_cli.cli import main
from climate_cli.generate import generate_landing_zone

HEADER = "location_id,date,temp_max_c,temp_min_c,precipitation_mm\n"
DAY = "2024-07-01"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the lake with a CSV the pipeline must never read."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.csv").write_text(HEADER + f"SECRET,{DAY},30,20,0\n")
    return folder


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _reason(lake: LocalLake, key: str) -> dict:
    return json.loads((Path(lake.root) / f"quarantine/{key}{REASON_SUFFIX}").read_text())


def _tick(lake: LocalLake):
    sensor = arrival_sensor(daily_partitions("2024-01-01"), 30, [CLIMATE])
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=None, resources={"lake": LocalLakeResource(root=lake.root)}
        )
        return sensor(context)


def test_sensor_quarantines_a_linked_file_and_a_linked_folder(tmp_path, outside):
    lake = LocalLake(tmp_path / "lake")
    file_link = f"raw/climate/date={DAY}/linked.csv"
    folder_link = "raw/climate/date=2024-07-02"
    (Path(lake.root) / file_link).parent.mkdir(parents=True)
    (Path(lake.root) / file_link).symlink_to(outside / "secret.csv")
    (Path(lake.root) / folder_link).symlink_to(outside)
    before = _digest(outside)

    result = _tick(lake)

    assert result.run_requests == []  # nothing behind a link is processed
    assert "moved 2 key(s) to quarantine" in result.skip_reason.skip_message
    for key in (file_link, folder_link):
        reason = _reason(lake, key)["reason"]
        assert reason.startswith(f"a symbolic link (to {outside}"), reason
        assert "the link was not followed" in reason
        assert (Path(lake.root) / "quarantine" / key).is_symlink()  # the link moved, as itself
        assert not os.path.lexists(Path(lake.root) / key)
    assert _digest(outside) == before  # the targets stayed where they were, unchanged


def test_lake_refuses_to_read_or_write_through_a_link(tmp_path, outside):
    lake = LocalLake(tmp_path / "lake")
    (Path(lake.root) / "raw/climate").mkdir(parents=True)
    (Path(lake.root) / f"raw/climate/date={DAY}").symlink_to(outside)
    with pytest.raises(NotInLakeError, match=rf"raw/climate/date={DAY}: a symbolic link"):
        lake.read_bytes(f"raw/climate/date={DAY}/secret.csv")
    with pytest.raises(NotInLakeError):
        lake.write_text(f"raw/climate/date={DAY}/new.csv", HEADER)
    assert lake.list_keys("raw") == []
    assert sorted(outside.iterdir()) == [outside / "secret.csv"]


def test_upload_refuses_to_write_through_a_linked_folder(tmp_path, outside, monkeypatch, capsys):
    monkeypatch.setenv("CLIMATE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLIMATE_LAKE_ROOT", raising=False)
    landing = tmp_path / "state/lake/raw/climate"
    landing.mkdir(parents=True)
    (landing / f"date={DAY}").symlink_to(outside)
    source = tmp_path / "climate.csv"
    source.write_text(HEADER + f"L1,{DAY},30,20,0\n")

    assert main(["upload", str(source), "--dataset", "climate"]) == 1

    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"raw/climate/date={DAY}: a symbolic link (to {outside})" in err
    assert sorted(outside.iterdir()) == [outside / "secret.csv"]  # nothing written there


def test_generate_replaces_a_linked_file_and_never_writes_its_target(tmp_path, outside):
    root = tmp_path / "lake"
    link = root / f"raw/climate/date={DAY}/climate.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside / "secret.csv")
    before = _digest(outside)

    generate_landing_zone(root, locations=2, days=1, start=date(2024, 7, 1), seed=1)

    assert not link.is_symlink() and link.read_text().startswith("location_id,")
    assert _digest(outside) == before
