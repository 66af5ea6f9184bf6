"""Row rules and the duplicate rule of the data contract (DATA_CONTRACT.md section 1).

The rules run on the DuckDB engine (the ``engine`` fixture); ``tests/unit/test_logic_engines.py``
runs the trickiest inputs through the Spark engine too.

Raw frames hold every contract column as a string (None = absent optional column or empty
cell), plus ``_source_file``, ``_row`` and, for daily datasets, ``_partition_date``. Each case is
one row with its own key (so the duplicate rule stays out of the way), identified by ``_row``.

Which rule wins when a row breaks several (the order logic.row_rules builds its rule list in):
  1. per column, in contract column order: "required value is missing", then "not a ..."
     (or, for a text key column, "longer than 256 characters");
  2. then range rules ("out of range", "must be > / >="), in contract column order;
  3. then cross-column rules ("<col>: must be <= <other col>");
  4. then the date-vs-partition-folder rule;
  5. then the unknown-location rule.
So a parse failure in a late column beats a range failure in an early one.

The rule texts are the exact texts logic.py produces (constants imported where rules.py has them).
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from climate_glue.contract import CLIMATE, HEALTH, HOSPITAL, LOCATIONS
from climate_glue.rules import (
    RULE_DATE_NOT_PARTITION,
    RULE_DUPLICATE_CONFLICT,
    RULE_UNKNOWN_LOCATION,
    rejected_rows,
    typed_name,
    valid_rows,
    validate,
)

PARTITION = "2024-07-01"

# Cases that show a bug (see the tests named after them): they ride in the same frames as the
# other cases (one validate() per dataset) but are asserted only in their own tests.
BUG_CASES = {"name tab", "population tab-padded", "precipitation 1e999", "wind 1e999"}
SQL_ID = "x'); DROP TABLE y;--"


def missing(column: str) -> str:
    return f"{column}: required value is missing"


def not_number(column: str) -> str:
    return f"{column}: not a number"


def not_whole(column: str) -> str:
    return f"{column}: not a whole number"


def not_date(column: str) -> str:
    return f"{column}: not a date (YYYY-MM-DD)"


def not_bool(column: str) -> str:
    return f"{column}: not a boolean (true/false, 1/0, yes/no, y/n)"


BASES = {
    "locations": {
        "name": "Los Angeles",
        "state": "CA",
        "latitude": "34.05",
        "longitude": "-118.24",
        "population": "10014009",
        "elevation_m": "93",
    },
    "climate": {
        "date": PARTITION,
        "temp_max_c": "35.5",
        "temp_min_c": "20.1",
        "precipitation_mm": "0",
        "humidity_pct": "40",
        "wind_speed_ms": "3.2",
        "aqi": "80",
    },
    "health": {
        "date": PARTITION,
        "heat_illness_cases": "5",
        "respiratory_cases": "12",
        "cardiovascular_cases": "3",
        "waterborne_cases": "0",
        "vector_borne_cases": "1",
        "ed_visits": "200",
    },
    "hospital": {
        "location_id": "L001",
        "hospital_name": "General",
        "date": PARTITION,
        "total_beds": "300",
        "beds_occupied": "250",
        "icu_beds": "30",
        "icu_beds_occupied": "20",
        "has_backup_power": "yes",
        "in_flood_zone": "no",
    },
}


def default_row(dataset, i: int) -> dict:
    """A valid row with a key of its own: location L<i> (or hospital H<i>)."""
    row = dict(BASES[dataset.name])
    if dataset.name == "hospital":
        row["hospital_id"] = f"H{i:03d}"
    else:
        row["location_id"] = f"L{i:03d}"
    return row


def raw_frame(engine, dataset, rows: list[dict]):
    columns = list(dataset.column_names)
    ddl = ", ".join(f"{c} string" for c in columns) + ", _source_file string, _row bigint"
    if dataset.daily:
        ddl += ", _partition_date string"
    data = []
    for i, row in enumerate(rows, start=1):
        partition = row.get("_partition_date", PARTITION)
        folder = f"raw/{dataset.name}/date={partition}" if dataset.daily else f"raw/{dataset.name}"
        values = [row.get(c) for c in columns] + [
            row.get("_source_file", f"{folder}/a.csv"),
            row.get("_row", i),
        ]
        if dataset.daily:
            values.append(partition)
        data.append(tuple(values))
    return engine.frame(data, ddl)


def known_locations(engine):
    ids = [f"L{i:03d}" for i in range(1, 200)] + ["06037", "00123", SQL_ID]
    return engine.frame([(i,) for i in ids], "location_id string")


# The engine's column types by their Spark DDL names (what the contract calls them).
SPARK_NAMES = {
    "VARCHAR": "string",
    "DOUBLE": "double",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "DATE": "date",
    "BOOLEAN": "boolean",
}


def column_types(engine, frame) -> list[tuple[str, str]]:
    """(column, type) of ``frame`` as the DuckDB engine declares them, in Spark DDL names."""
    described = engine.rows(f"DESCRIBE {frame.name}")
    return [
        (d["column_name"], SPARK_NAMES.get(d["column_type"], d["column_type"])) for d in described
    ]


class Checked:
    """validate() over one row per case; everything the tests read is collected here, once.

    Rows of BUG_CASES ride along (one validate() per dataset) but are left out of the counts,
    since their outcome is what the bug changes.
    """

    def __init__(self, engine, dataset, cases):
        self.cases = cases
        rows = [
            {**default_row(dataset, i), **overrides}
            for i, (_, overrides, _) in enumerate(cases, start=1)
        ]
        self.bug_rows = [i for i, case in enumerate(cases, start=1) if case[0] in BUG_CASES]
        known = known_locations(engine) if dataset.references_locations else None
        validated = validate(engine, raw_frame(engine, dataset, rows), dataset, known)
        self.by_row = {r["_row"]: r for r in engine.rows(validated)}
        assert len(self.by_row) == len(cases)
        rejected = rejected_rows(engine, validated, dataset)
        self.rejected_list = engine.rows(rejected)
        self.reject_counts = dict(
            Counter(r["_reject_rule"] for r in self.rejected_list if r["_row"] not in self.bug_rows)
        )
        valid = valid_rows(engine, validated, dataset)
        self.valid_dtypes = column_types(engine, valid)
        self.valid_rows_list = engine.rows(valid)

    def assert_rules(self, labels=None):
        """Every case's rule (or only ``labels``); BUG_CASES only when named in ``labels``."""
        wrong = {}
        for i, (label, _, expected) in enumerate(self.cases, start=1):
            if (labels is None and label in BUG_CASES) or (
                labels is not None and label not in labels
            ):
                continue
            got = self.by_row[i]["_reject_rule"]
            if got != expected:
                wrong[label] = {"got": got, "want": expected}
        assert not wrong, wrong

    def assert_counts(self):
        cases = [case for case in self.cases if case[0] not in BUG_CASES]
        want = Counter(expected for _, _, expected in cases if expected is not None)
        assert self.reject_counts == dict(want)
        bug_valid = sum(1 for i in self.bug_rows if self.by_row[i]["_reject_rule"] is None)
        assert len(self.valid_rows_list) - bug_valid == len(cases) - sum(want.values())

    def typed(self, label: str, column: str):
        i = next(i for i, (name, _, _) in enumerate(self.cases, start=1) if name == label)
        return self.by_row[i][typed_name(column)]


@pytest.fixture
def checked(engine):
    """make(dataset, cases): the Checked result of a case list, on the test's engine."""

    def make(dataset, cases):
        return Checked(engine, dataset, cases)

    return make


# --------------------------------------------------------------------------- locations

LOCATION_CASES = [
    ("valid", {}, None),
    # non-null columns missing; blank and whitespace-only read as null
    ("location_id null", {"location_id": None}, missing("location_id")),
    ("location_id empty", {"location_id": ""}, missing("location_id")),
    ("location_id spaces", {"location_id": "   "}, missing("location_id")),
    ("name null", {"name": None}, missing("name")),
    ("name empty", {"name": ""}, missing("name")),
    ("name spaces", {"name": "  "}, missing("name")),
    ("latitude null", {"latitude": None}, missing("latitude")),
    ("latitude spaces", {"latitude": " "}, missing("latitude")),
    ("longitude empty", {"longitude": ""}, missing("longitude")),
    ("population null", {"population": None}, missing("population")),
    # nullable columns: absent/blank is fine
    ("state null", {"state": None}, None),
    ("state blank", {"state": "  "}, None),
    ("elevation_m absent", {"elevation_m": None}, None),
    # trimming, leading zeros, text that looks like SQL
    ("id padded", {"location_id": " 06037 "}, None),
    ("id leading zeros", {"location_id": "00123"}, None),
    ("id sql", {"location_id": SQL_ID}, None),
    ("population padded", {"population": " 42 "}, None),
    # population > 0 (exclusive)
    ("population 0", {"population": "0"}, "population: must be > 0"),
    ("population -1", {"population": "-1"}, "population: must be > 0"),
    ("population 1", {"population": "1"}, None),
    # latitude -90..90, longitude -180..180 (inclusive)
    ("latitude -90", {"latitude": "-90"}, None),
    ("latitude 90", {"latitude": "90"}, None),
    ("latitude 90.1", {"latitude": "90.1"}, "latitude: out of range -90..90"),
    ("latitude -90.1", {"latitude": "-90.1"}, "latitude: out of range -90..90"),
    ("longitude -180", {"longitude": "-180"}, None),
    ("longitude 180", {"longitude": "180"}, None),
    ("longitude 180.5", {"longitude": "180.5"}, "longitude: out of range -180..180"),
    (
        "longitude -180.01",
        {"longitude": "-180.01"},
        "longitude: out of range -180..180",
    ),
    # numbers with stray text, whole numbers written as decimals, NaN/Infinity text
    ("population 12abc", {"population": "12abc"}, not_whole("population")),
    ("population 1,5", {"population": "1,5"}, not_whole("population")),
    ("population 3.0", {"population": "3.0"}, not_whole("population")),
    ("population 1e3", {"population": "1e3"}, not_whole("population")),
    (
        "population overflow",
        {"population": "99999999999999999999"},
        not_whole("population"),
    ),
    ("latitude 12abc", {"latitude": "12abc"}, not_number("latitude")),
    ("latitude 1,5", {"latitude": "1,5"}, not_number("latitude")),
    ("latitude NaN", {"latitude": "NaN"}, not_number("latitude")),
    ("longitude Infinity", {"longitude": "Infinity"}, not_number("longitude")),
    ("longitude -Infinity", {"longitude": "-Infinity"}, not_number("longitude")),
    ("elevation_m nan", {"elevation_m": "nan"}, not_number("elevation_m")),
    ("elevation_m inf", {"elevation_m": "inf"}, not_number("elevation_m")),
    ("latitude .5", {"latitude": ".5"}, None),
    ("latitude +1e1", {"latitude": "+1e1"}, None),
    # several broken rules: the first in check order wins
    (
        "name missing + population bad",
        {"name": "", "population": "abc"},
        missing("name"),
    ),
    (
        "latitude range + population unparseable",
        {"latitude": "91", "population": "abc"},
        not_whole("population"),
    ),
    (
        "latitude range + longitude range",
        {"latitude": "91", "longitude": "181"},
        "latitude: out of range -90..90",
    ),
    (
        "latitude range + population 0",
        {"latitude": "91", "population": "0"},
        "latitude: out of range -90..90",
    ),
    # BUG_CASES: a tab is whitespace too
    ("name tab", {"name": "\t"}, missing("name")),
    ("population tab-padded", {"population": "\t7\t"}, None),
]


def test_locations_row_rules(checked):
    result = checked(LOCATIONS, LOCATION_CASES)
    result.assert_rules()
    result.assert_counts()


def test_locations_typed_values_and_ids_kept_as_text(checked):
    result = checked(LOCATIONS, LOCATION_CASES)
    valid = {r["location_id"]: r for r in result.valid_rows_list}
    # trimmed, leading zeros kept, SQL-looking text passes through as plain text
    assert {"06037", "00123", SQL_ID} <= set(valid)
    assert " 06037 " not in valid
    assert valid["06037"]["population"] == 10014009
    assert result.typed("population padded", "population") == 42
    assert result.typed("latitude .5", "latitude") == 0.5
    assert result.typed("latitude +1e1", "latitude") == 10.0
    assert result.valid_dtypes == [
        ("location_id", "string"),
        ("name", "string"),
        ("state", "string"),
        ("latitude", "double"),
        ("longitude", "double"),
        ("population", "bigint"),
        ("elevation_m", "double"),
        ("_source_file", "string"),
    ]
    assert valid["06037"]["state"] == "CA" and result.typed("state blank", "state") is None


def test_rejected_rows_keep_raw_values(checked):
    result = checked(LOCATIONS, LOCATION_CASES)
    rows = {r["_row"]: r for r in result.rejected_list}
    i = next(
        i for i, (label, _, _) in enumerate(LOCATION_CASES, start=1) if label == "population 12abc"
    )
    assert rows[i]["population"] == "12abc"
    assert rows[i]["_reject_rule"] == not_whole("population")
    assert rows[i]["_source_file"] == "raw/locations/a.csv"


def test_whitespace_only_tab_counts_as_missing(checked):
    """A cell holding only a tab is whitespace-only and must read as null, like "   " does."""
    result = checked(LOCATIONS, LOCATION_CASES)
    result.assert_rules({"name tab", "population tab-padded"})


# --------------------------------------------------------------------------- climate

CLIMATE_CASES = [
    ("valid", {}, None),
    ("location_id null", {"location_id": None}, missing("location_id")),
    ("date null", {"date": None}, missing("date")),
    ("date blank", {"date": "  "}, missing("date")),
    ("temp_max_c empty", {"temp_max_c": ""}, missing("temp_max_c")),
    ("temp_min_c spaces", {"temp_min_c": " "}, missing("temp_min_c")),
    # required-but-nullable and optional columns may be null
    ("precipitation null", {"precipitation_mm": None}, None),
    (
        "optional columns absent",
        {"humidity_pct": None, "wind_speed_ms": None, "aqi": None},
        None,
    ),
    # trimming; the contract's leading-zero location id
    ("location padded", {"location_id": " 06037 "}, None),
    ("date padded", {"date": " 2024-07-01 "}, None),
    # aqi 0..500, a whole number
    ("aqi 0", {"aqi": "0"}, None),
    ("aqi 500", {"aqi": "500"}, None),
    ("aqi 501", {"aqi": "501"}, "aqi: out of range 0..500"),
    ("aqi -1", {"aqi": "-1"}, "aqi: out of range 0..500"),
    ("aqi 50.5", {"aqi": "50.5"}, not_whole("aqi")),
    ("aqi 3.0", {"aqi": "3.0"}, not_whole("aqi")),
    ("aqi too big for int", {"aqi": "3000000000"}, not_whole("aqi")),
    # humidity 0..100
    ("humidity 0", {"humidity_pct": "0"}, None),
    ("humidity 100", {"humidity_pct": "100"}, None),
    (
        "humidity 100.01",
        {"humidity_pct": "100.01"},
        "humidity_pct: out of range 0..100",
    ),
    ("humidity -0.1", {"humidity_pct": "-0.1"}, "humidity_pct: out of range 0..100"),
    # temperatures -90..60, temp_min <= temp_max
    ("temp_max 60", {"temp_max_c": "60"}, None),
    ("temp_max 60.1", {"temp_max_c": "60.1"}, "temp_max_c: out of range -90..60"),
    ("temp_min -90", {"temp_min_c": "-90"}, None),
    ("temp_min -90.5", {"temp_min_c": "-90.5"}, "temp_min_c: out of range -90..60"),
    (
        "temp_min > temp_max",
        {"temp_min_c": "30", "temp_max_c": "25"},
        "temp_min_c: must be <= temp_max_c",
    ),
    ("temp_min = temp_max", {"temp_min_c": "25", "temp_max_c": "25"}, None),
    # precipitation >= 0, wind >= 0
    ("precipitation 0", {"precipitation_mm": "0"}, None),
    (
        "precipitation -0.1",
        {"precipitation_mm": "-0.1"},
        "precipitation_mm: must be >= 0",
    ),
    ("wind -1", {"wind_speed_ms": "-1"}, "wind_speed_ms: must be >= 0"),
    # numbers
    ("temp_max 12abc", {"temp_max_c": "12abc"}, not_number("temp_max_c")),
    ("precipitation 1,5", {"precipitation_mm": "1,5"}, not_number("precipitation_mm")),
    ("precipitation NaN", {"precipitation_mm": "NaN"}, not_number("precipitation_mm")),
    ("wind Infinity", {"wind_speed_ms": "Infinity"}, not_number("wind_speed_ms")),
    ("humidity Inf", {"humidity_pct": "Inf"}, not_number("humidity_pct")),
    # dates
    ("date 2024-02-30", {"date": "2024-02-30"}, not_date("date")),
    ("date 2024/01/01", {"date": "2024/01/01"}, not_date("date")),
    ("date 01-01-2024", {"date": "01-01-2024"}, not_date("date")),
    ("date 2024-7-1", {"date": "2024-7-1"}, not_date("date")),
    ("date with time", {"date": "2024-07-01T00:00:00"}, not_date("date")),
    ("date not its partition", {"date": "2024-06-30"}, RULE_DATE_NOT_PARTITION),
    # locations
    ("unknown location", {"location_id": "ZZZ"}, RULE_UNKNOWN_LOCATION),
    ("location without zero", {"location_id": "6037"}, RULE_UNKNOWN_LOCATION),
    # several broken: parse beats unknown location; cross-column beats date; date beats location
    (
        "temp_max bad + unknown location",
        {"temp_max_c": "hot", "location_id": "ZZZ"},
        not_number("temp_max_c"),
    ),
    (
        "aqi range + temp_min > temp_max",
        {"aqi": "999", "temp_min_c": "40"},
        "aqi: out of range 0..500",
    ),
    (
        "temp_min > temp_max + wrong date",
        {"temp_min_c": "40", "date": "2024-06-30"},
        "temp_min_c: must be <= temp_max_c",
    ),
    (
        "wrong date + unknown location",
        {"date": "2024-06-30", "location_id": "ZZZ"},
        RULE_DATE_NOT_PARTITION,
    ),
    (
        "temp_max range + aqi unparseable",
        {"temp_max_c": "99", "aqi": "x"},
        not_whole("aqi"),
    ),
    # BUG_CASES: an overflowing literal casts to Infinity
    (
        "precipitation 1e999",
        {"precipitation_mm": "1e999"},
        not_number("precipitation_mm"),
    ),
    ("wind 1e999", {"wind_speed_ms": "1e999"}, not_number("wind_speed_ms")),
]


def test_climate_row_rules(checked):
    result = checked(CLIMATE, CLIMATE_CASES)
    result.assert_rules()
    result.assert_counts()


def test_climate_typed_values(checked):
    result = checked(CLIMATE, CLIMATE_CASES)
    assert result.valid_dtypes == [
        ("location_id", "string"),
        ("date", "date"),
        ("temp_max_c", "double"),
        ("temp_min_c", "double"),
        ("precipitation_mm", "double"),
        ("humidity_pct", "double"),
        ("wind_speed_ms", "double"),
        ("aqi", "int"),
        ("_source_file", "string"),
    ]
    assert result.typed("location padded", "location_id") == "06037"
    assert result.typed("date padded", "date") == date(2024, 7, 1)
    assert result.typed("aqi 500", "aqi") == 500
    assert result.typed("valid", "temp_max_c") == 35.5
    assert "06037" in {r["location_id"] for r in result.valid_rows_list}
    # rejects carry their partition folder date
    partitions = {r["_partition_date"] for r in result.rejected_list}
    assert partitions == {PARTITION}


def test_overflowing_number_is_not_accepted_as_infinity(checked):
    """'1e999' matches the number pattern but is not a finite double: it casts to Infinity.

    NaN/Infinity text is rejected as "not a number"; an overflowing literal must not slip through
    as Infinity where only a lower bound (precipitation_mm >= 0, wind_speed_ms >= 0) is checked.
    """
    result = checked(CLIMATE, CLIMATE_CASES)
    result.assert_rules({"precipitation 1e999", "wind 1e999"})


# --------------------------------------------------------------------------- health

HEALTH_CASES = [
    ("valid", {}, None),
    ("location_id blank", {"location_id": " "}, missing("location_id")),
    ("date missing", {"date": ""}, missing("date")),
    (
        "counts null",
        {
            c: None
            for c in (
                "heat_illness_cases",
                "respiratory_cases",
                "cardiovascular_cases",
                "waterborne_cases",
                "vector_borne_cases",
            )
        },
        None,
    ),
    ("ed_visits absent", {"ed_visits": None}, None),
    ("count 0", {"heat_illness_cases": "0"}, None),
    ("count -1", {"heat_illness_cases": "-1"}, "heat_illness_cases: must be >= 0"),
    (
        "count -1 later column",
        {"vector_borne_cases": "-1"},
        "vector_borne_cases: must be >= 0",
    ),
    ("ed_visits -1", {"ed_visits": "-1"}, "ed_visits: must be >= 0"),
    ("count 3.0", {"respiratory_cases": "3.0"}, not_whole("respiratory_cases")),
    ("count 1,5", {"cardiovascular_cases": "1,5"}, not_whole("cardiovascular_cases")),
    ("count 12abc", {"waterborne_cases": "12abc"}, not_whole("waterborne_cases")),
    ("count padded", {"waterborne_cases": " 4 "}, None),
    ("count NaN", {"ed_visits": "NaN"}, not_whole("ed_visits")),
    ("date 2024-02-30", {"date": "2024-02-30"}, not_date("date")),
    ("date not its partition", {"date": "2024-07-02"}, RULE_DATE_NOT_PARTITION),
    ("unknown location", {"location_id": "NOPE"}, RULE_UNKNOWN_LOCATION),
    ("leading-zero location", {"location_id": "00123"}, None),
    ("sql location", {"location_id": SQL_ID}, None),
    (
        "range in first column vs parse in last",
        {"heat_illness_cases": "-1", "ed_visits": "x"},
        not_whole("ed_visits"),
    ),
]


def test_health_row_rules(checked):
    result = checked(HEALTH, HEALTH_CASES)
    result.assert_rules()
    result.assert_counts()
    assert result.typed("count padded", "waterborne_cases") == 4
    ids = {r["location_id"] for r in result.valid_rows_list}
    assert {"00123", SQL_ID} <= ids


# --------------------------------------------------------------------------- hospital

BOOL_SPELLINGS = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "TRUE": True,
    "False": False,
    "YES": True,
    "No": False,
    "Y": True,
    "N": False,
    " yes ": True,
}

HOSPITAL_CASES = [
    ("valid", {}, None),
    ("hospital_id missing", {"hospital_id": ""}, missing("hospital_id")),
    ("location_id missing", {"location_id": None}, missing("location_id")),
    ("date missing", {"date": None}, missing("date")),
    ("total_beds missing", {"total_beds": " "}, missing("total_beds")),
    ("beds_occupied missing", {"beds_occupied": None}, missing("beds_occupied")),
    (
        "nullable columns null",
        {
            "hospital_name": None,
            "icu_beds": None,
            "icu_beds_occupied": None,
            "has_backup_power": None,
            "in_flood_zone": None,
        },
        None,
    ),
    ("hospital_id leading zeros", {"hospital_id": "010001"}, None),
    ("hospital_id sql", {"hospital_id": SQL_ID}, None),
    (
        "zero beds",
        {
            "total_beds": "0",
            "beds_occupied": "0",
            "icu_beds": "0",
            "icu_beds_occupied": "0",
        },
        None,
    ),
    (
        "total_beds -1",
        {
            "total_beds": "-1",
            "beds_occupied": "0",
            "icu_beds": "0",
            "icu_beds_occupied": "0",
        },
        "total_beds: must be >= 0",
    ),
    ("beds_occupied = total", {"beds_occupied": "300"}, None),
    (
        "beds_occupied > total",
        {"beds_occupied": "301"},
        "beds_occupied: must be <= total_beds",
    ),
    (
        "icu_beds > total",
        {"icu_beds": "301", "icu_beds_occupied": "0"},
        "icu_beds: must be <= total_beds",
    ),
    ("icu_beds_occupied = icu", {"icu_beds_occupied": "30"}, None),
    (
        "icu_beds_occupied > icu",
        {"icu_beds_occupied": "31"},
        "icu_beds_occupied: must be <= icu_beds",
    ),
    ("total_beds 3.0", {"total_beds": "3.0"}, not_whole("total_beds")),
    ("beds_occupied 12abc", {"beds_occupied": "12abc"}, not_whole("beds_occupied")),
    ("backup maybe", {"has_backup_power": "maybe"}, not_bool("has_backup_power")),
    ("backup t", {"has_backup_power": "t"}, not_bool("has_backup_power")),
    ("flood 2", {"in_flood_zone": "2"}, not_bool("in_flood_zone")),
    ("flood yess", {"in_flood_zone": "yess"}, not_bool("in_flood_zone")),
    ("unknown location", {"location_id": "ZZZ"}, RULE_UNKNOWN_LOCATION),
    ("date 2024/07/01", {"date": "2024/07/01"}, not_date("date")),
    ("date not its partition", {"date": "2024-07-02"}, RULE_DATE_NOT_PARTITION),
    # several broken: bool parse (late column) beats the range rule of an earlier column
    (
        "occupied > total + backup bad",
        {"beds_occupied": "999", "has_backup_power": "maybe"},
        not_bool("has_backup_power"),
    ),
    # two cross-column rules: the one for the earlier column wins
    (
        "occupied > total + icu_occ > icu",
        {"beds_occupied": "999", "icu_beds_occupied": "99"},
        "beds_occupied: must be <= total_beds",
    ),
    *[
        (f"backup {word!r}", {"has_backup_power": word, "in_flood_zone": word}, None)
        for word in BOOL_SPELLINGS
    ],
]


def test_hospital_row_rules(checked):
    result = checked(HOSPITAL, HOSPITAL_CASES)
    result.assert_rules()
    result.assert_counts()


def test_hospital_booleans_and_ids(checked):
    result = checked(HOSPITAL, HOSPITAL_CASES)
    got = {
        word: (
            result.typed(f"backup {word!r}", "has_backup_power"),
            result.typed(f"backup {word!r}", "in_flood_zone"),
        )
        for word in BOOL_SPELLINGS
    }
    assert got == {word: (value, value) for word, value in BOOL_SPELLINGS.items()}
    valid = {r["hospital_id"]: r for r in result.valid_rows_list}
    assert {"010001", SQL_ID} <= set(valid)
    assert valid["010001"]["has_backup_power"] is True and valid["010001"]["in_flood_zone"] is False
    assert result.valid_dtypes[-3:] == [
        ("has_backup_power", "boolean"),
        ("in_flood_zone", "boolean"),
        ("_source_file", "string"),
    ]


# --------------------------------------------------------------------------- duplicate rule


def climate_dup(location, file, row, day=PARTITION, **values):
    return {
        **BASES["climate"],
        "location_id": location,
        "date": day,
        "_partition_date": day,
        "_source_file": f"raw/climate/date={day}/{file}",
        "_row": row,
        **values,
    }


DUPLICATE_ROWS = [
    # K1: identical rows in two files -> the one in the larger file name (b.csv) kept
    climate_dup("L001", "a.csv", 1),
    climate_dup("L001", "b.csv", 1),
    # K2: identical rows in one file -> the largest row number kept
    climate_dup("L002", "a.csv", 10),
    climate_dup("L002", "a.csv", 2),
    climate_dup("L002", "a.csv", 9),
    # K3: conflicting values -> both rejected
    climate_dup("L003", "a.csv", 3),
    climate_dup("L003", "b.csv", 3, temp_max_c="36.0"),
    # K4: two identical, one different (an optional value null) -> all three rejected
    climate_dup("L004", "a.csv", 4),
    climate_dup("L004", "b.csv", 4),
    climate_dup("L004", "c.csv", 4, aqi=None),
    # K5: a twin broken by a row rule takes no part -> the valid one is kept
    climate_dup("L005", "a.csv", 5),
    climate_dup("L005", "b.csv", 5, temp_max_c="hot"),
    # K6: a broken row plus two identical valid rows -> the later valid one kept
    climate_dup("L006", "a.csv", 6, aqi="999"),
    climate_dup("L006", "b.csv", 6),
    climate_dup("L006", "c.csv", 6),
    # K8: same location on two dates -> two keys, both valid
    climate_dup("L008", "a.csv", 8),
    climate_dup("L008", "a.csv", 8, day="2024-07-02"),
    # K9: two broken twins only -> each keeps its own rule, none dropped
    climate_dup("L009", "a.csv", 9, aqi="999"),
    climate_dup("L009", "b.csv", 9, temp_max_c="hot"),
    # K10: conflicting valid rows plus a broken twin -> the valid ones conflict
    climate_dup("L010", "a.csv", 10),
    climate_dup("L010", "b.csv", 10, aqi="12"),
    climate_dup("L010", "c.csv", 10, aqi="999"),
    # K11: texts that differ but parse to the same values -> identical, the last one kept
    climate_dup("L011", "a.csv", 11, temp_max_c="35.50"),
    climate_dup("L011", "b.csv", 11, temp_max_c=" 35.5 "),
]


@pytest.fixture(params=[True, False], ids=["repeated-keys", "every-row"])
def duplicates(engine, request):
    """validate() of DUPLICATE_ROWS in both forms of the duplicate rule (DuckDB's, Spark's):
    (validated rows, reject counts, valid rows), collected."""
    engine.duplicates_on_repeated_keys = request.param
    frame = validate(
        engine, raw_frame(engine, CLIMATE, DUPLICATE_ROWS), CLIMATE, known_locations(engine)
    )
    rejected = engine.rows(rejected_rows(engine, frame, CLIMATE))
    return (
        engine.rows(frame),
        dict(Counter(r["_reject_rule"] for r in rejected)),
        engine.rows(valid_rows(engine, frame, CLIMATE)),
    )


def test_duplicate_rule_outcome_per_row(duplicates):
    got = {
        (
            r["location_id"],
            r["_partition_date"],
            r["_source_file"].rsplit("/", 1)[1],
            r["_row"],
        ): (r["_reject_rule"], r["_duplicate_dropped"])
        for r in duplicates[0]
    }
    kept, dropped, conflict = (
        (None, False),
        (None, True),
        (RULE_DUPLICATE_CONFLICT, False),
    )
    expected = {
        ("L001", PARTITION, "a.csv", 1): dropped,
        ("L001", PARTITION, "b.csv", 1): kept,
        ("L002", PARTITION, "a.csv", 2): dropped,
        ("L002", PARTITION, "a.csv", 9): dropped,
        ("L002", PARTITION, "a.csv", 10): kept,
        ("L003", PARTITION, "a.csv", 3): conflict,
        ("L003", PARTITION, "b.csv", 3): conflict,
        ("L004", PARTITION, "a.csv", 4): conflict,
        ("L004", PARTITION, "b.csv", 4): conflict,
        ("L004", PARTITION, "c.csv", 4): conflict,
        ("L005", PARTITION, "a.csv", 5): kept,
        ("L005", PARTITION, "b.csv", 5): (not_number("temp_max_c"), False),
        ("L006", PARTITION, "a.csv", 6): ("aqi: out of range 0..500", False),
        ("L006", PARTITION, "b.csv", 6): dropped,
        ("L006", PARTITION, "c.csv", 6): kept,
        ("L008", PARTITION, "a.csv", 8): kept,
        ("L008", "2024-07-02", "a.csv", 8): kept,
        ("L009", PARTITION, "a.csv", 9): ("aqi: out of range 0..500", False),
        ("L009", PARTITION, "b.csv", 9): (not_number("temp_max_c"), False),
        ("L010", PARTITION, "a.csv", 10): conflict,
        ("L010", PARTITION, "b.csv", 10): conflict,
        ("L010", PARTITION, "c.csv", 10): ("aqi: out of range 0..500", False),
        ("L011", PARTITION, "a.csv", 11): dropped,
        ("L011", PARTITION, "b.csv", 11): kept,
    }
    assert got == expected


def test_duplicate_rule_counts(duplicates):
    assert duplicates[1] == {
        RULE_DUPLICATE_CONFLICT: 7,
        not_number("temp_max_c"): 2,
        "aqi: out of range 0..500": 3,
    }
    valid = duplicates[2]
    # one row per key: L001, L002, L005, L006, L008 x 2 dates, L011
    assert sorted(
        (r["location_id"], str(r["date"]), r["_source_file"].rsplit("/", 1)[1]) for r in valid
    ) == [
        ("L001", "2024-07-01", "b.csv"),
        ("L002", "2024-07-01", "a.csv"),
        ("L005", "2024-07-01", "a.csv"),
        ("L006", "2024-07-01", "c.csv"),
        ("L008", "2024-07-01", "a.csv"),
        ("L008", "2024-07-02", "a.csv"),
        ("L011", "2024-07-01", "b.csv"),
    ]
    assert sum(1 for r in duplicates[0] if r["_duplicate_dropped"]) == 5


def test_locations_unique_by_location_id(engine):
    base = {**BASES["locations"], "_source_file": "raw/locations/a.csv"}
    rows = [
        {**base, "location_id": "06037", "name": "Los Angeles", "_row": 1},
        {
            **base,
            "location_id": "06037",
            "name": "Los Angeles County",
            "_row": 2,
        },  # conflict
        {**base, "location_id": "00123", "_row": 3},
        {**base, "location_id": "00123", "_row": 4},  # identical: row 4 kept
        {**base, "location_id": "6037", "_row": 5},  # a different id from "06037"
    ]
    validated = validate(engine, raw_frame(engine, LOCATIONS, rows), LOCATIONS)
    got = {r["_row"]: (r["_reject_rule"], r["_duplicate_dropped"]) for r in engine.rows(validated)}
    assert got == {
        1: (RULE_DUPLICATE_CONFLICT, False),
        2: (RULE_DUPLICATE_CONFLICT, False),
        3: (None, True),
        4: (None, False),
        5: (None, False),
    }
