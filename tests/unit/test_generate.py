"""The sample landing-zone generator, checked on the files it really writes (no Spark)."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from climate_glue.contract import (
    CLIMATE,
    FALSE_WORDS,
    HEALTH,
    HEALTH_COUNT_COLUMNS,
    RAW_DATASETS,
    TRUE_WORDS,
    Dataset,
)

from climate_cli.generate import GeneratedLandingZone, generate_landing_zone

DOUBLE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
WHOLE = re.compile(r"^[+-]?\d+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file, every value as the text that was written."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_dataset(root: Path, dataset: Dataset) -> list[dict[str, str]]:
    """Every row of a raw dataset, daily rows tagged with their partition folder's date."""
    base = root / "raw" / dataset.name
    if not dataset.daily:
        return read_csv(base / f"{dataset.name}.csv")[1]
    rows = []
    for folder in sorted(base.iterdir()):
        for row in read_csv(folder / f"{dataset.name}.csv")[1]:
            rows.append({**row, "_folder_date": folder.name.removeprefix("date=")})
    return rows


def lake_keys(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def typed(dataset: Dataset, row: dict[str, str]) -> dict[str, object]:
    """Parse a raw row the way the contract reads it; fail on anything unparseable."""
    values: dict[str, object] = {}
    for column in dataset.columns:
        text = row[column.name]
        assert text == text.strip(), (dataset.name, column.name, text)
        assert text != "", f"{dataset.name}.{column.name} is empty"
        if column.type == "string":
            values[column.name] = text
        elif column.type == "double":
            assert DOUBLE.match(text), (column.name, text)
            values[column.name] = float(text)
        elif column.type in ("long", "int"):
            assert WHOLE.match(text), (column.name, text)
            values[column.name] = int(text)
        elif column.type == "date":
            assert ISO_DATE.match(text), (column.name, text)
            values[column.name] = date.fromisoformat(text)
        elif column.type == "bool":
            assert text in ("true", "false"), (column.name, text)
            assert text in TRUE_WORDS + FALSE_WORDS
            values[column.name] = text == "true"
        else:
            raise AssertionError(f"unknown contract type {column.type}")
    return values


def assert_contract_rules(dataset: Dataset, value: dict[str, object]) -> None:
    """Every min/max/max_column rule the contract gives for the dataset's columns."""
    for column in dataset.columns:
        v = value[column.name]
        if column.min is not None:
            if column.min_exclusive:
                assert v > column.min, (dataset.name, column.name, v)
            else:
                assert v >= column.min, (dataset.name, column.name, v)
        if column.max is not None:
            assert v <= column.max, (dataset.name, column.name, v)
        if column.max_column is not None:
            assert v <= value[column.max_column], (dataset.name, column.name, v)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GeneratedLandingZone]:
    """January through July for 40 locations: enough for seasons and cross-location checks."""
    root = tmp_path_factory.mktemp("year")
    result = generate_landing_zone(root, locations=40, days=213, start=date(2024, 1, 1), seed=11)
    assert result.days[-1] == date(2024, 7, 31)
    return root, result


@pytest.fixture(scope="module")
def year_data(year) -> dict[str, list[dict[str, object]]]:
    root, _ = year
    data = {}
    for dataset in RAW_DATASETS.values():
        rows = read_dataset(root, dataset)
        parsed = []
        for row in rows:
            value = typed(dataset, row)
            if dataset.daily:
                value["_folder_date"] = date.fromisoformat(row["_folder_date"])
            parsed.append(value)
        data[dataset.name] = parsed
    return data


# --- layout ----------------------------------------------------------------------------------


def test_layout_is_exactly_the_contract_keys(tmp_path: Path) -> None:
    result = generate_landing_zone(tmp_path, locations=3, days=4, start=date(2024, 2, 27), seed=1)

    days = [date(2024, 2, 27), date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    expected = {"raw/locations/locations.csv"} | {
        f"raw/{name}/date={day.isoformat()}/{name}.csv"
        for day in days
        for name in ("climate", "health", "hospital")
    }
    assert lake_keys(tmp_path) == expected
    assert result.root == tmp_path
    assert result.days == days
    assert set(result.files) == expected and len(result.files) == len(expected)
    assert result.files[0] == "raw/locations/locations.csv"

    counted = Counter()
    for key in expected:
        header, rows = read_csv(tmp_path / key)
        dataset = RAW_DATASETS[key.split("/")[1]]
        assert header == list(dataset.column_names), key
        counted[dataset.name] += len(rows)
    assert result.rows == dict(counted)
    assert result.rows["locations"] == 3
    assert result.rows["climate"] == result.rows["health"] == 12
    assert 12 <= result.rows["hospital"] <= 48


def test_files_are_utf8_with_unix_line_endings(tmp_path: Path) -> None:
    generate_landing_zone(tmp_path, locations=5, days=1, start=date(2024, 7, 1), seed=2)
    for key in lake_keys(tmp_path):
        raw = (tmp_path / key).read_bytes()
        assert b"\r" not in raw, key
        assert not raw.startswith(b"\xef\xbb\xbf"), key
        raw.decode("utf-8")
        assert raw.endswith(b"\n"), key


# --- determinism -----------------------------------------------------------------------------


def _contents(root: Path) -> dict[str, bytes]:
    return {key: (root / key).read_bytes() for key in sorted(lake_keys(root))}


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    args = {"locations": 25, "days": 5, "start": date(2024, 7, 1)}
    a = generate_landing_zone(tmp_path / "a", seed=42, **args)
    b = generate_landing_zone(tmp_path / "b", seed=42, **args)
    c = generate_landing_zone(tmp_path / "c", seed=43, **args)

    assert a.files == b.files == c.files
    assert a.rows == b.rows
    assert _contents(tmp_path / "a") == _contents(tmp_path / "b")
    other = _contents(tmp_path / "c")
    for key, content in _contents(tmp_path / "a").items():
        assert other[key] != content, key


def test_shorter_run_is_a_prefix_of_a_longer_one(tmp_path: Path) -> None:
    short = generate_landing_zone(tmp_path / "s", 10, 2, date(2024, 1, 1), seed=5)
    generate_landing_zone(tmp_path / "l", 10, 6, date(2024, 1, 1), seed=5)
    for key in short.files:
        assert (tmp_path / "s" / key).read_bytes() == (tmp_path / "l" / key).read_bytes(), key


# --- ids -------------------------------------------------------------------------------------


def test_leading_zero_ids_survive(tmp_path: Path) -> None:
    generate_landing_zone(tmp_path, locations=300, days=1, start=date(2024, 7, 1), seed=3)
    _, locations = read_csv(tmp_path / "raw/locations/locations.csv")
    _, hospitals = read_csv(tmp_path / "raw/hospital/date=2024-07-01/hospital.csv")

    location_ids = [row["location_id"] for row in locations]
    assert len(location_ids) == 300 == len(set(location_ids))
    assert all(len(i) == 5 and i.isdigit() for i in location_ids)
    assert any(i.startswith("0") for i in location_ids)

    hospital_ids = [row["hospital_id"] for row in hospitals]
    assert len(hospital_ids) == len(set(hospital_ids))
    assert all(len(i) == 6 and i.isdigit() for i in hospital_ids)
    assert any(i.startswith("0") for i in hospital_ids)

    # FIPS-like: the hospital's state prefix is its location's; state matches the id prefix.
    state_of_prefix: dict[str, str] = {}
    for row in locations:
        assert len(row["state"]) == 2 and row["state"].isupper()
        previous = state_of_prefix.setdefault(row["location_id"][:2], row["state"])
        assert previous == row["state"]
    assert state_of_prefix.get("06", "CA") == "CA"
    assert state_of_prefix.get("48", "TX") == "TX"
    for row in hospitals:
        assert row["hospital_id"][:2] == row["location_id"][:2]


# --- contract rules --------------------------------------------------------------------------


def test_every_value_satisfies_the_contract(year, year_data) -> None:
    _, result = year
    for dataset in RAW_DATASETS.values():
        rows = year_data[dataset.name]
        assert len(rows) == result.rows[dataset.name]
        for value in rows:
            assert_contract_rules(dataset, value)
            if dataset.daily:
                assert value["date"] == value["_folder_date"]


def test_references_keys_and_grain(year, year_data) -> None:
    _, result = year
    location_ids = [v["location_id"] for v in year_data["locations"]]
    assert len(location_ids) == len(set(location_ids)) == 40
    known = set(location_ids)
    expected_pairs = {(lid, day) for lid in known for day in result.days}

    for dataset in (CLIMATE, HEALTH):
        pairs = [(v["location_id"], v["date"]) for v in year_data[dataset.name]]
        assert len(pairs) == len(set(pairs)), f"{dataset.name}: duplicate key"
        assert set(pairs) == expected_pairs, dataset.name

    hospital_rows = year_data["hospital"]
    assert {v["location_id"] for v in hospital_rows} == known
    keys = [(v["hospital_id"], v["date"]) for v in hospital_rows]
    assert len(keys) == len(set(keys))

    # Hospitals: 1-4 per location, the same set and fixed attributes every day.
    fixed = ("location_id", "hospital_name", "total_beds", "icu_beds")
    fixed += ("has_backup_power", "in_flood_zone")
    per_day: dict[date, dict[str, tuple]] = defaultdict(dict)
    for v in hospital_rows:
        per_day[v["date"]][v["hospital_id"]] = tuple(v[c] for c in fixed)
    first = per_day[result.days[0]]
    assert all(per_day[day] == first for day in result.days)
    per_location = Counter(attrs[0] for attrs in first.values())
    assert set(per_location) == known
    assert all(1 <= n <= 4 for n in per_location.values())
    assert all(attrs[2] >= 10 for attrs in first.values())


def test_location_values_are_plausible(year_data) -> None:
    for v in year_data["locations"]:
        assert 25 <= v["latitude"] <= 49 and -124 <= v["longitude"] <= -67
        assert 1_000 <= v["population"] <= 5_000_000
        assert 0 <= v["elevation_m"] <= 3000
        assert v["name"].endswith(" County")


def test_daily_values_are_plausible(year_data) -> None:
    climate = year_data["climate"]
    rain = np.array([v["precipitation_mm"] for v in climate])
    aqi = np.array([v["aqi"] for v in climate])
    assert np.mean(rain == 0) > 0.5  # most days are dry
    assert rain.max() > 40  # but there is heavy rain
    assert np.mean(rain) > np.median(rain)  # right-skewed
    assert 0.6 < np.mean((aqi >= 20) & (aqi <= 80))
    assert (aqi > 150).any()
    for v in climate:
        for name in ("temp_max_c", "temp_min_c", "precipitation_mm", "humidity_pct"):
            assert round(v[name], 1) == v[name]

    for v in year_data["health"]:
        assert v["ed_visits"] >= sum(v[name] for name in HEALTH_COUNT_COLUMNS)

    hospital = year_data["hospital"]
    occupancy = np.array([v["beds_occupied"] / v["total_beds"] for v in hospital])
    assert 0.55 < np.median(occupancy) < 0.95
    assert np.mean((occupancy >= 0.5) & (occupancy <= 0.98)) > 0.8
    icu_share = np.array([v["icu_beds"] / v["total_beds"] for v in hospital])
    assert 0.04 < np.median(icu_share) < 0.16


# --- realism ---------------------------------------------------------------------------------


def test_south_is_warmer_in_july_than_january(year_data) -> None:
    south = min(year_data["locations"], key=lambda v: v["latitude"])["location_id"]
    by_month: dict[int, list[float]] = defaultdict(list)
    for v in year_data["climate"]:
        if v["location_id"] == south:
            by_month[v["date"].month].append(v["temp_max_c"])
    assert np.mean(by_month[7]) > np.mean(by_month[1])

    # Across locations over the run: warmer to the south.
    lat = {v["location_id"]: v["latitude"] for v in year_data["locations"]}
    temps: dict[str, list[float]] = defaultdict(list)
    for v in year_data["climate"]:
        temps[v["location_id"]].append(v["temp_max_c"])
    ids = sorted(temps)
    corr = np.corrcoef([lat[i] for i in ids], [np.mean(temps[i]) for i in ids])[0, 1]
    assert corr < -0.5


def test_heat_illness_rises_with_temperature(year_data) -> None:
    temp = {(v["location_id"], v["date"]): v["temp_max_c"] for v in year_data["climate"]}
    pop = {v["location_id"]: v["population"] for v in year_data["locations"]}
    hot, mild = [], []
    for v in year_data["health"]:
        rate = v["heat_illness_cases"] / pop[v["location_id"]] * 100_000
        (hot if temp[(v["location_id"], v["date"])] > 32 else mild).append(rate)
    assert hot and mild
    assert np.mean(hot) > 2 * np.mean(mild)


def test_case_totals_follow_population(year_data) -> None:
    totals: Counter[str] = Counter()
    for v in year_data["health"]:
        totals[v["location_id"]] += sum(v[name] for name in HEALTH_COUNT_COLUMNS)
    ids = [v["location_id"] for v in year_data["locations"]]
    population = np.array([v["population"] for v in year_data["locations"]], dtype=float)
    cases = np.array([totals[i] for i in ids], dtype=float)
    assert np.corrcoef(population, cases)[0, 1] > 0.8
    assert np.corrcoef(np.log(population), np.log1p(cases))[0, 1] > 0.8
    assert population.max() / population.min() > 20  # heavy-tailed populations


def test_small_locations_give_small_counts(tmp_path: Path) -> None:
    generate_landing_zone(tmp_path, locations=30, days=3, start=date(2024, 7, 1), seed=9)
    counts = [
        int(row[name]) for row in read_dataset(tmp_path, HEALTH) for name in HEALTH_COUNT_COLUMNS
    ]
    assert any(1 <= c <= 10 for c in counts)
    assert 0 in counts


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locations", "days", "message"),
    [(0, 1, "locations must be >= 1"), (1, 0, "days must be >= 1"), (-3, 5, "locations")],
)
def test_rejects_bad_counts(tmp_path: Path, locations: int, days: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_landing_zone(tmp_path, locations, days, date(2024, 1, 1), seed=1)
    assert not any(tmp_path.iterdir())


def test_handles_a_run_over_year_end(tmp_path: Path) -> None:
    start = date(2023, 12, 30)
    result = generate_landing_zone(tmp_path, locations=2, days=3, start=start, seed=4)
    assert result.days == [start + timedelta(days=i) for i in range(3)]
    assert (tmp_path / "raw/climate/date=2024-01-01/climate.csv").is_file()


def test_past_every_county_code_come_places(tmp_path: Path) -> None:
    """Benchmark volumes: locations past the county codes are places within counties."""
    from climate_cli.generate import MAX_COUNTIES

    count = MAX_COUNTIES + 1500
    result = generate_landing_zone(tmp_path, count, 1, date(2024, 7, 1), seed=6)
    assert result.rows["locations"] == result.rows["climate"] == count
    locations = read_dataset(tmp_path, RAW_DATASETS["locations"])
    ids = [row["location_id"] for row in locations]
    assert len(ids) == len(set(ids)) == count
    counties = {i for i in ids if len(i) == 5}
    places = [i for i in ids if len(i) == 8]
    assert len(counties) == MAX_COUNTIES and len(places) == 1500
    assert all(p[:5] in counties and p.isdigit() and p[5:] != "000" for p in places)
    assert ids == sorted(ids)
    names = {row["location_id"]: row["name"] for row in locations}
    assert names[places[0]].startswith(names[places[0][:5]].removesuffix(" County"))
    for row in locations:
        assert_contract_rules(RAW_DATASETS["locations"], typed(RAW_DATASETS["locations"], row))

    hospitals = read_dataset(tmp_path, RAW_DATASETS["hospital"])
    hospital_ids = [row["hospital_id"] for row in hospitals]
    assert len(hospital_ids) == len(set(hospital_ids))
    assert {row["location_id"] for row in hospitals} == set(ids)
    widths_per_state = defaultdict(set)
    for row in hospitals:
        assert_contract_rules(RAW_DATASETS["hospital"], typed(RAW_DATASETS["hospital"], row))
        assert row["hospital_id"][:2] == row["location_id"][:2]
        widths_per_state[row["hospital_id"][:2]].add(len(row["hospital_id"]))
    assert all(len(w) == 1 for w in widths_per_state.values())
