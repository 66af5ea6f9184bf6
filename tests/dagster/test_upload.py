"""``climate-assets upload``: a whole-year file split into the dated landing layout."""

from __future__ import annotations

import pytest
from climate_glue.contract import CLIMATE
from climate_glue.lake import LocalLake

from climate_assets.defs.automation.arrival_sensor import layout_problem
from climate_cli.cli import main

ROWS = [
    "L1,2024-07-02,30,20,0",
    'L2,2024-07-01,"31",21,1',
    "L1,2024-07-01,29,19,0",
    "",
    "L3,2024-12-31,5,1,2",
]


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIMATE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLIMATE_LAKE_ROOT", raising=False)
    return tmp_path


def _lake(state) -> LocalLake:
    return LocalLake(state / "state" / "lake")


def test_multi_day_file_is_split_by_its_date_column(state, capsys):
    source = state / "climate_2024.csv"
    source.write_text(
        "\ufefflocation_id, Date ,temp_max_c,temp_min_c,precipitation_mm\n" + "\n".join(ROWS) + "\n"
    )
    assert main(["upload", str(source), "--dataset", "climate"]) == 0
    lake = _lake(state)
    keys = lake.list_keys("raw")
    assert keys == [
        "raw/climate/date=2024-07-01/climate_2024.csv",
        "raw/climate/date=2024-07-02/climate_2024.csv",
        "raw/climate/date=2024-12-31/climate_2024.csv",
    ]
    assert all(layout_problem(CLIMATE, key) is None for key in keys)
    header = "location_id, Date ,temp_max_c,temp_min_c,precipitation_mm"
    assert (
        lake.read_bytes(keys[0]).decode()
        == f"{header}\nL2,2024-07-01,31,21,1\nL1,2024-07-01,29,19,0\n"
    )
    assert lake.read_bytes(keys[2]).decode() == f"{header}\nL3,2024-12-31,5,1,2\n"
    assert "Wrote 3 file(s)" in capsys.readouterr().out


def test_locations_go_to_the_locations_folder(state):
    source = state / "counties.csv"
    source.write_text("location_id,name\n06037,Los Angeles\n")
    assert main(["upload", str(source), "--dataset", "locations"]) == 0
    assert _lake(state).read_bytes("raw/locations/counties.csv") == source.read_bytes()


def test_a_bad_date_fails_naming_file_and_row_and_writes_nothing(state, capsys):
    lake = _lake(state)
    lake.write_text("raw/climate/date=2024-07-01/climate.csv", "kept")
    source = state / "climate.csv"
    source.write_text("location_id,date,temp_max_c\nL1,2024-07-01,3\nL2,07/02/2024,4\nL3,,5\n")
    assert main(["upload", str(source), "--dataset", "climate"]) == 1
    error = capsys.readouterr().err
    assert str(source) in error
    assert "row 2: date '07/02/2024'" in error and "row 3: date ''" in error
    assert lake.list_keys("raw") == ["raw/climate/date=2024-07-01/climate.csv"]
    assert lake.read_bytes("raw/climate/date=2024-07-01/climate.csv") == b"kept"


def test_unknown_dataset_and_missing_date_column_are_refused(state, capsys):
    source = state / "x.csv"
    source.write_text("location_id,day\nL1,2024-07-01\n")
    assert main(["upload", str(source), "--dataset", "weather"]) == 1
    assert "unknown dataset 'weather'" in capsys.readouterr().err
    assert main(["upload", str(source), "--dataset", "health"]) == 1
    assert "no 'date' column" in capsys.readouterr().err
    assert _lake(state).list_keys("raw") == []
