"""A catalog of bad inputs, end to end through the job scripts (contract sections 1 and 3).

One module-scoped baseline per engine (DuckDB, the embedded default, and Spark, as on Glue) is
published by the real job scripts (``main(argv)``, as the local Glue client calls them) and the
embedded PostgreSQL: every case must give the same outcome on both engines. Each case then drops
one bad file into the 2024-07-01 landing folder, runs the job for that day, and asserts the
exact error or reject, and that previously published data is unchanged: a file that cannot be
read fails the job before anything is written (the lake's processed/ tree and the PostgreSQL
table compare equal, lineage included) and is quarantined with its reason; a file whose rows
break rules republishes the day with exactly the good rows.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from climate_glue.contract import CLIMATE, HOSPITAL
from climate_glue.lake import LocalLake
from climate_glue.quarantine import REASON_SUFFIX, quarantine
from climate_glue.raw import RawFileError, RawFilesError, list_raw_files
from climate_glue.warehouse import EMBEDDED_DATABASE

from climate_assets.local_glue.spark import local_spark_session
from climate_assets.resources.embedded_postgres import embedded_server
from climate_assets.resources.warehouse import ensure_database
from climate_cli.generate import generate_landing_zone
from tests.support import CASE_FILE, DAY, TABLES, Published

pytestmark = pytest.mark.e2e

CASES = ("climate", "hospital")  # the datasets the cases drop files into
CLIMATE_HEADER = (
    "location_id,date,temp_max_c,temp_min_c,precipitation_mm,humidity_pct,wind_speed_ms,aqi"
)
HOSPITAL_HEADER = (
    "hospital_id,location_id,hospital_name,date,total_beds,beds_occupied,icu_beds,"
    "icu_beds_occupied,has_backup_power,in_flood_zone"
)


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def published(request, tmp_path_factory):
    engine = request.param
    state = tmp_path_factory.mktemp(f"catalog-{engine}")
    generate_landing_zone(state / "lake", locations=3, days=2, start=date(2024, 7, 1), seed=5)
    if engine == "spark":
        local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
    server = embedded_server(str(state / "pgdata"))
    ensure_database(server.get_uri("postgres"), EMBEDDED_DATABASE)
    base = Published(state, engine)
    base.run("locations")
    for dataset in ("climate", "health", "hospital"):
        base.run(dataset, DAY, "2024-07-02")
    base.baseline = {d: base.table(d, lineage=False) for d in CASES}
    return base


@pytest.fixture
def case(published):
    """Each case starts from the generated files and leaves them so."""
    yield published
    for dataset in CASES:
        published.raw(dataset).unlink(missing_ok=True)


def _fails_and_changes_nothing(base: Published, dataset: str, content: bytes, problem: str):
    before = base.snapshot(dataset)
    path = base.raw(dataset)
    path.write_bytes(content)
    key = f"raw/{dataset}/date={DAY}/{CASE_FILE}"
    with pytest.raises(RawFilesError) as failure:
        base.run(dataset)
    assert str(failure.value) == f"{key}: {problem}"
    assert base.snapshot(dataset) == before
    assert not path.exists()
    quarantined = base.lake / "quarantine" / key
    assert quarantined.read_bytes() == content
    reason = json.loads(Path(str(quarantined) + REASON_SUFFIX).read_text())
    assert reason["key"] == key and reason["reason"] == problem
    assert reason["moved_by"] == f"catalog-{base.runs}"


def _loads(
    base: Published, dataset: str, content: str | None, max_reject_rate: float = 1.0
) -> list[dict[str, str]]:
    """Run with the case file (if any); return the rejects. Day 2 stays byte for byte."""
    tree = base.processed_tree()
    if content is not None:
        base.raw(dataset).write_text(content, encoding="utf-8")
    base.run(dataset, max_reject_rate=max_reject_rate)
    day2 = f"{TABLES[dataset]}/year=2024/month=07/day=02/"
    after = base.processed_tree()
    assert {k: v for k, v in after.items() if day2 in k} == {
        k: v for k, v in tree.items() if day2 in k
    }
    return base.rejects(dataset)


def _climate_row(base: Published, **changes) -> str:
    header, first = base.rows_of("climate")[0], base.rows_of("climate")[1]
    values = dict(zip(header, first, strict=True))
    values.update(changes)
    return ",".join(values[c] for c in header)


# --------------------------------------------------------------------------- whole files


def test_non_utf8_bytes_beyond_the_header_probe(case):
    good = _climate_row(case)
    rows = 64 * 1024 // len(good) + 100  # past the 64 KiB the header probe reads
    body = "\n".join([good] * rows)
    content = f"{CLIMATE_HEADER}\n{body}\n".encode() + b"LOC\xff\xfe,2024-07-01,1,1,1,,,\n"
    _fails_and_changes_nothing(
        case, "climate", content, f"not UTF-8 (data row {rows + 1}; 1 row(s) affected)"
    )


def test_non_utf8_bytes_in_the_header(case):
    content = b"location_id,d\xe4te,temp_max_c\nA,2024-07-01,1\n"
    _fails_and_changes_nothing(case, "climate", content, "not UTF-8 (byte 13)")


def test_semicolon_delimiter(case):
    content = CLIMATE_HEADER.replace(",", ";") + "\n" + _climate_row(case).replace(",", ";")
    _fails_and_changes_nothing(
        case,
        "climate",
        (content + "\n").encode(),
        "wrong delimiter: the header has ';' where ',' is expected",
    )


def test_truncated_last_line(case):
    row = _climate_row(case)
    content = f"{CLIMATE_HEADER}\n{row}\n{row[: len(row) // 2]}"  # cut mid-row, no newline
    _fails_and_changes_nothing(
        case,
        "climate",
        content.encode(),
        "ragged or truncated rows: 1 row(s) do not have the header's 8 fields"
        " (first at data row 2)",
    )


def test_ragged_rows(case):
    row = _climate_row(case)
    content = f"{CLIMATE_HEADER}\n{row}\n{row},extra\n{row}\n{row.rsplit(',', 2)[0]}\n"
    _fails_and_changes_nothing(
        case,
        "climate",
        content.encode(),
        "ragged or truncated rows: 2 row(s) do not have the header's 8 fields"
        " (first at data row 2)",
    )


def test_empty_file(case):
    _fails_and_changes_nothing(case, "climate", b"", "empty file")


def test_header_only(case):
    _fails_and_changes_nothing(
        case, "climate", f"{CLIMATE_HEADER}\n".encode(), "header only: no data rows"
    )


def test_missing_required_column(case):
    content = "location_id,date,temp_min_c,precipitation_mm\nA,2024-07-01,1,0\n"
    _fails_and_changes_nothing(
        case, "climate", content.encode(), "missing required column(s): temp_max_c"
    )


def test_several_bad_files_are_all_quarantined_and_named(case):
    before = case.snapshot("climate")
    other = case.raw("climate", "zz_other.csv")
    case.raw("climate").write_bytes(b"")
    other.write_text(f"{CLIMATE_HEADER}\n", encoding="utf-8")
    with pytest.raises(RawFilesError) as failure:
        case.run("climate")
    assert [str(e) for e in failure.value.errors] == [
        f"raw/climate/date={DAY}/{CASE_FILE}: empty file",
        f"raw/climate/date={DAY}/zz_other.csv: header only: no data rows",
    ]
    assert case.snapshot("climate") == before
    assert not other.exists()


# --------------------------------------------------------------------------- accepted files


def test_bom_is_accepted(case):
    rows = case.rows_of("climate")
    original = case.raw("climate", "climate.csv")
    content = original.read_bytes()
    original.write_bytes(b"\xef\xbb\xbf" + content)
    try:
        assert _loads(case, "climate", None) == []
    finally:
        original.write_bytes(content)
    assert case.table("climate", lineage=False) == case.baseline["climate"]
    assert len(rows) > 1


def test_extra_column_is_loaded_without_it(case):
    original = case.raw("climate", "climate.csv")
    content = original.read_text(encoding="utf-8")
    lines = content.splitlines()
    drifted = [lines[0] + ",station_note"] + [line + ",roof sensor" for line in lines[1:]]
    original.write_text("\n".join(drifted) + "\n", encoding="utf-8")
    try:
        assert _loads(case, "climate", None) == []
    finally:
        original.write_text(content, encoding="utf-8")
    assert case.table("climate", lineage=False) == case.baseline["climate"]
    with case.connect() as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'climate_data'"
        )]  # fmt: skip
    assert "station_note" not in columns


def test_header_case_and_spaces(case):
    header = (
        " Location_ID ,DATE,Temp_Max_C , temp_min_c,PRECIPITATION_MM,humidity_pct,wind_speed_ms,AQI"
    )
    assert _loads(case, "climate", f"{header}\n{_climate_row(case)}\n") == []
    assert case.table("climate", lineage=False) == case.baseline["climate"]


# --------------------------------------------------------------------------- rows


def test_duplicate_identical_rows_keep_one(case):
    row = _climate_row(case)
    assert _loads(case, "climate", f"{CLIMATE_HEADER}\n{row}\n{row}\n") == []
    assert case.table("climate", lineage=False) == case.baseline["climate"]
    with case.connect() as conn:
        source = conn.execute(
            "SELECT _source_file FROM climate_health.climate_data WHERE location_id = %s"
            " AND date = %s",
            (row.split(",")[0], DAY),
        ).fetchone()[0]
    assert source == f"raw/climate/date={DAY}/{CASE_FILE}"  # the last in file order wins


def test_conflicting_duplicates_reject_every_row_of_the_key(case):
    row = _climate_row(case)
    location = row.split(",")[0]
    changed = _climate_row(case, temp_max_c="39.5")
    rejects = _loads(case, "climate", f"{CLIMATE_HEADER}\n{changed}\n")
    assert sorted((r["_source_file"], r["_row"], r["_reject_rule"]) for r in rejects) == [
        (f"raw/climate/date={DAY}/climate.csv", "1", "duplicate key with conflicting values"),
        (f"raw/climate/date={DAY}/{CASE_FILE}", "1", "duplicate key with conflicting values"),
    ]
    expected = [r for r in case.baseline["climate"] if (r[0], r[1].isoformat()) != (location, DAY)]
    assert case.table("climate", lineage=False) == expected


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"location_id": "99999"}, "location_id: unknown location"),
        ({"date": "2024-07-02"}, "date: does not match its partition folder"),
        ({"temp_max_c": "75.0"}, "temp_max_c: out of range -90..60"),
        ({"temp_max_c": "10.0", "temp_min_c": "12.0"}, "temp_min_c: must be <= temp_max_c"),
        ({"aqi": "501"}, "aqi: out of range 0..500"),
        ({"temp_max_c": "31.5C"}, "temp_max_c: not a number"),
        ({"aqi": "12 ppm"}, "aqi: not a whole number"),
    ],
    ids=[
        "unknown_location",
        "date_not_its_folder",
        "out_of_range",
        "temp_min_above_max",
        "aqi_out_of_range",
        "number_with_stray_text",
        "whole_number_with_stray_text",
    ],
)
def test_bad_row_is_rejected_with_its_rule(case, changes, rule):
    bad = _climate_row(case, **changes)
    rejects = _loads(case, "climate", f"{CLIMATE_HEADER}\n{bad}\n")
    assert [(r["_source_file"], r["_row"], r["_reject_rule"]) for r in rejects] == [
        (f"raw/climate/date={DAY}/{CASE_FILE}", "1", rule)
    ]
    for column, value in changes.items():
        assert rejects[0][column if column != "date" else "raw_date"] == value  # as it arrived
    assert case.table("climate", lineage=False) == case.baseline["climate"]


def _hospital_row(base: Published, **changes) -> str:
    rows = base.rows_of("hospital")
    values = dict(zip(rows[0], rows[1], strict=True))
    values.update(changes)
    return ",".join(values[c] for c in rows[0])


def test_leading_zero_ids_stay_text(case):
    row = _hospital_row(case, hospital_id="000123", hospital_name="Zero Clinic")
    assert _loads(case, "hospital", f"{HOSPITAL_HEADER}\n{row}\n") == []
    with case.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT hospital_id FROM climate_health.hospital_data")]
    assert "000123" in ids and "123" not in ids


def test_an_id_that_looks_like_sql_is_only_data(case):
    evil = "x'); DROP TABLE y;--"
    row = _hospital_row(case, hospital_id=f'"{evil}"', hospital_name="Quoted")
    assert _loads(case, "hospital", f"{HOSPITAL_HEADER}\n{row}\n") == []
    with case.connect() as conn:
        stored = conn.execute(
            "SELECT hospital_name FROM climate_health.hospital_data WHERE hospital_id = %s",
            (evil,),
        ).fetchall()
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'climate_health'"
            )
        }
    assert stored == [("Quoted",)]
    assert {"climate_data", "hospital_data", "locations"} <= tables
    baseline = case.baseline["hospital"]
    assert [r for r in case.table("hospital", lineage=False) if r[0] != evil] == baseline


class _Listing:
    """A lake listing as S3 can return it: keys are text, and may contain '..' segments."""

    def __init__(self, keys: list[str]):
        self.keys = keys

    def list_keys(self, prefix: str) -> list[str]:
        return [k for k in self.keys if k.startswith(prefix + "/")]


def test_keys_with_dotdot_are_refused_and_never_moved(case):
    key = f"raw/climate/date={DAY}/../../../processed/climate_data/x.csv"
    listing = _Listing([f"raw/climate/date={DAY}/climate.csv", key])
    with pytest.raises(RawFileError) as failure:
        list_raw_files(listing, CLIMATE, [date(2024, 7, 1)])
    assert str(failure.value) == f"{key}: key contains '..': not a landing key"
    tree = case.processed_tree()
    with pytest.raises(ValueError, match=r"must not contain '\.\.'"):
        quarantine(LocalLake(case.lake), key, "test", moved_by="catalog")
    assert case.processed_tree() == tree
    assert not (case.lake / "quarantine" / "processed").exists()
    # A name that merely contains two dots is an ordinary file.
    assert list_raw_files(
        _Listing([f"raw/hospital/date={DAY}/a..b.csv"]), HOSPITAL, [date(2024, 7, 1)]
    ) == {DAY: [f"raw/hospital/date={DAY}/a..b.csv"]}


def test_a_symbolic_link_is_quarantined_and_its_target_never_read(case, tmp_path):
    """Contract section 1: only regular files inside the landing zone are read. A link to a
    well-formed CSV elsewhere fails the day naming the link; the link (not its target) moves
    to quarantine, and nothing of the target reaches the lake or PostgreSQL."""
    target = tmp_path / "elsewhere.csv"
    target.write_text(f"{CLIMATE_HEADER}\nSECRET,{DAY},30,20,0,50,3,40\n")
    key = case.key("climate")
    before = case.snapshot("climate")
    case.raw("climate").symlink_to(target)
    with pytest.raises(RawFilesError) as failure:
        case.run("climate")
    assert str(failure.value).startswith(f"{key}: a symbolic link (to {target})")
    assert case.snapshot("climate") == before
    assert (case.lake / "quarantine" / key).is_symlink()
    assert target.read_text().startswith(CLIMATE_HEADER)  # in place, unchanged
    assert "SECRET" not in str(case.table("climate"))
    (case.lake / "quarantine" / key).unlink()


# --------------------------------------------------------------------------- RFC 4180


def test_bom_only_file_is_quarantined_as_empty(case):
    """What a spreadsheet writes for an empty export: one file, one outcome, no crash."""
    _fails_and_changes_nothing(case, "climate", b"\xef\xbb\xbf", "empty file (no header row)")


def test_rfc4180_quoting_commas_doubled_quotes_line_breaks_and_crlf(case):
    """A quoted field may hold a comma, a doubled quote ("" is one ") and a line break; lines
    may end in CRLF. Each quoted line break stays inside its field: one row, not two."""
    name = 'General, "North"\r\nCampus'
    quoted = '"' + name.replace('"', '""') + '"'
    row = _hospital_row(case, hospital_id="Q1", hospital_name=quoted)
    other = _hospital_row(case, hospital_id="Q2", hospital_name="Plain")
    content = f"{HOSPITAL_HEADER}\r\n{row}\r\n{other}\r\n"
    assert _loads(case, "hospital", content) == []
    with case.connect() as conn:
        stored = dict(
            conn.execute(
                "SELECT hospital_id, hospital_name FROM climate_health.hospital_data"
                " WHERE hospital_id IN ('Q1', 'Q2')"
            ).fetchall()
        )
    # Known difference, the one left: in a file whose lines end in CRLF, Spark's CSV reader
    # (univocity, multiLine with the line ending detected) turns a CRLF inside quotes into LF;
    # its lineSep option, which would stop that, takes one character only. DuckDB keeps it.
    expected = name if case.engine == "duckdb" else name.replace("\r\n", "\n")
    assert stored == {"Q1": expected, "Q2": "Plain"}


def test_source_file_and_rejects_name_the_key_exactly(case):
    """A file name with spaces, quotes and a percent sign is named as it is in the lake (no
    %20), in the processed rows' _source_file and in the rejects' file column."""
    awkward = 'north "wing" 100% final.csv'
    bad = _climate_row(case, location_id="NOWHERE")
    good = _climate_row(case)
    path = case.raw("climate", awkward)
    path.write_text(f"{CLIMATE_HEADER}\n{good}\n{bad}\n", encoding="utf-8")
    key = f"raw/climate/date={DAY}/{awkward}"
    try:
        case.run("climate")
        rejects = case.rejects("climate")
        with case.connect() as conn:
            sources = {
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT _source_file FROM climate_health.climate_data"
                )
            }
    finally:
        path.unlink()
    assert [(r["_source_file"], r["_row"], r["_reject_rule"]) for r in rejects] == [
        (key, "2", "location_id: unknown location")
    ]
    assert key in sources


def test_a_day_whose_every_row_is_rejected_publishes_its_rejects_not_a_crash(case):
    """Every location unknown: every row is a reject with its rule, published; the blocking
    reject_rate check (the 1% default) fails on the staged output, so the day's published rows
    stay as they were, in the lake byte for byte and in PostgreSQL; the other day is untouched."""
    original = case.raw("hospital", "hospital.csv")
    content = original.read_bytes()
    rows = case.rows_of("hospital")
    unknown = [dict(zip(rows[0], r, strict=True)) | {"location_id": "NOWHERE"} for r in rows[1:]]
    original.write_text(
        "\n".join([",".join(rows[0]), *(",".join(r[c] for c in rows[0]) for r in unknown)]) + "\n",
        encoding="utf-8",
    )
    before = case.snapshot("hospital")
    try:
        rejects = _loads(case, "hospital", None, max_reject_rate=0.01)
        held = case.snapshot("hospital")
        # The same file with no threshold: the day is published with no rows, not a crash.
        rejects_again = _loads(case, "hospital", None)
        published = case.table("hospital", lineage=False)
    finally:
        original.write_bytes(content)
        case.run("hospital")  # back to the baseline for the cases after this one
    expected = [(str(i), "location_id: unknown location") for i in range(1, len(unknown) + 1)]
    assert [(r["_row"], r["_reject_rule"]) for r in rejects] == expected
    assert [(r["_row"], r["_reject_rule"]) for r in rejects_again] == expected
    assert held == before
    day1 = date(2024, 7, 1)
    assert [r for r in published if day1 in r] == []
    assert [r for r in published if day1 not in r] == [
        r for r in case.baseline["hospital"] if day1 not in r
    ]
    assert (case.lake / "processed/hospital_data/year=2024/month=07/day=01").is_dir()


# --------------------------------------------------------------------------- found by fuzzing
# Each example tests/e2e/test_fuzz_intake.py found, kept here as a case on both engines.


def test_a_row_longer_than_the_parser_block_is_loaded(case):
    """Fuzz: one 3 MiB field. DuckDB's reader (pyarrow, 1 MiB blocks) refused the row, and the
    exact scan that followed hit Python's csv field limit: the job crashed, no outcome."""
    name = "Long " + "x" * (3 << 20)
    row = _hospital_row(case, hospital_id="L1", hospital_name=name)
    assert _loads(case, "hospital", f"{HOSPITAL_HEADER}\n{row}\n") == []
    with case.connect() as conn:
        stored = conn.execute(
            "SELECT hospital_name FROM climate_health.hospital_data WHERE hospital_id = 'L1'"
        ).fetchall()
    assert stored == [(name,)]


def test_a_row_of_two_huge_fields_is_rejected_by_its_rule(case):
    """Fuzz: two fields of 1 MiB + 1 in one row (hypothesis' first find), rejected by its rule."""
    huge = "x" * ((1 << 20) + 1)
    bad = _climate_row(case, date=huge, precipitation_mm=huge)
    rejects = _loads(case, "climate", f"{CLIMATE_HEADER}\n{bad}\n")
    assert [(r["_row"], r["_reject_rule"], len(r["raw_date"])) for r in rejects] == [
        ("1", "date: not a date (YYYY-MM-DD)", len(huge))
    ]
    assert case.table("climate", lineage=False) == case.baseline["climate"]


def test_a_ragged_file_with_a_huge_field_is_quarantined_with_its_count(case):
    """Fuzz: the exact count of ragged rows, in a file with a field past Python's csv limit."""
    row = _climate_row(case)
    huge = _climate_row(case, location_id="x" * (1 << 20))
    content = f"{CLIMATE_HEADER}\n{huge}\n{row},extra\n"
    _fails_and_changes_nothing(
        case,
        "climate",
        content.encode(),
        "ragged or truncated rows: 1 row(s) do not have the header's 8 fields"
        " (first at data row 2)",
    )


def test_a_nul_character_quarantines_the_file(case):
    """Fuzz: a NUL is valid UTF-8 but no text: PostgreSQL's COPY refused it, so the job failed
    after the rules with the file still in the landing zone (and failed again on every rerun)."""
    good = _hospital_row(case, hospital_id="N0")
    bad = _hospital_row(case, hospital_id="N1", hospital_name="General\x00")
    _fails_and_changes_nothing(
        case,
        "hospital",
        f"{HOSPITAL_HEADER}\n{good}\n{bad}\n".encode(),
        "NUL characters (data row 2; 1 row(s) affected)",
    )


def test_a_key_too_long_for_the_warehouse_index_is_rejected(case):
    """Fuzz: a 1 MiB hospital_id passed every rule, then PostgreSQL's primary key index refused
    it: the job failed at the load with the file still in the landing zone, on every rerun."""
    long_id = "9" * 257
    bad = _hospital_row(case, hospital_id=long_id)
    rejects = _loads(case, "hospital", f"{HOSPITAL_HEADER}\n{bad}\n")
    assert [(r["_row"], r["_reject_rule"], r["hospital_id"]) for r in rejects] == [
        ("1", "hospital_id: longer than 256 characters", long_id)
    ]
    assert case.table("hospital", lineage=False) == case.baseline["hospital"]


def test_an_unexpected_error_quarantines_only_its_file(case, monkeypatch):
    """Whatever fails while one file's header is checked (here: an error no check foresaw) is
    that file's problem: it is quarantined with the exception in its reason, the other bad file
    is still decided on its own, the job's error names both, and a rerun loads what is left."""
    from climate_glue import raw

    key = f"raw/climate/date={DAY}/{CASE_FILE}"
    other = case.raw("climate", "zz_other.csv")
    content = f"{CLIMATE_HEADER}\n{_climate_row(case)}\n".encode()
    case.raw("climate").write_bytes(content)
    other.write_text(f"{CLIMATE_HEADER}\n", encoding="utf-8")
    checked_header = raw._checked_header

    def failing(head, name, dataset, partition_date):
        if name == key:
            raise LookupError("unforeseen")
        return checked_header(head, name, dataset, partition_date)

    monkeypatch.setattr(raw, "_checked_header", failing)
    before = case.snapshot("climate")
    with pytest.raises(RawFilesError) as failure:
        case.run("climate")
    monkeypatch.undo()
    problem = "could not be read: LookupError: unforeseen"
    assert [str(e) for e in failure.value.errors] == [
        f"{key}: {problem}",
        f"raw/climate/date={DAY}/zz_other.csv: header only: no data rows",
    ]
    assert case.snapshot("climate") == before
    quarantined = case.lake / "quarantine" / key
    assert quarantined.read_bytes() == content
    assert json.loads(Path(f"{quarantined}{REASON_SUFFIX}").read_text())["reason"] == problem
    case.run("climate")
    assert case.table("climate", lineage=False) == case.baseline["climate"]


def test_a_fault_of_the_lake_fails_the_job_and_quarantines_nothing(case, monkeypatch):
    """An I/O fault of the lake while a file is read (S3 throttling, a disk error) is not the
    file's problem: the job fails with it (the retry policy judges it), the file stays where it
    landed, nothing published changes, and a rerun loads it."""
    key = f"raw/climate/date={DAY}/{CASE_FILE}"
    content = f"{CLIMATE_HEADER}\n{_climate_row(case)}\n".encode()
    case.raw("climate").write_bytes(content)
    read_head = LocalLake.read_head

    def failing(lake, name, size):
        if name == key:
            raise OSError(5, "Input/output error")
        return read_head(lake, name, size)

    monkeypatch.setattr(LocalLake, "read_head", failing)
    before = case.snapshot("climate")
    quarantine = sorted((case.lake / "quarantine").rglob("*"))
    with pytest.raises(OSError, match="Input/output error"):
        case.run("climate")
    monkeypatch.undo()
    assert case.snapshot("climate") == before
    assert case.raw("climate").read_bytes() == content
    assert sorted((case.lake / "quarantine").rglob("*")) == quarantine
    assert _loads(case, "climate", None) == []


def test_an_unexpected_error_in_the_scan_quarantines_only_its_file(case, monkeypatch):
    """The same for the scan of the rows, on the DuckDB engine (which reads file by file; the
    Spark engine reads every file of the job in one Spark read)."""
    if case.engine != "duckdb":
        pytest.skip("the Spark engine's scan is one read of every file")
    from climate_glue.engines import duck

    key = f"raw/climate/date={DAY}/{CASE_FILE}"
    content = f"{CLIMATE_HEADER}\n{_climate_row(case)}\n".encode()
    read_csv_file = duck.read_csv_file

    def failing(data, raw_file, dataset):
        if raw_file.key == key:
            raise MemoryError("no room for the file")
        return read_csv_file(data, raw_file, dataset)

    monkeypatch.setattr(duck, "read_csv_file", failing)
    _fails_and_changes_nothing(
        case, "climate", content, "could not be read: MemoryError: no room for the file"
    )


def test_lines_ending_in_lf_and_crlf_in_one_file(case, request):
    """Fuzz (engine parity): the contract's lines end in LF or CRLF, so one file may have both.
    The Spark engine's reader (univocity, multiLine) takes the line ending of the first line
    for the whole file: after a CRLF header, LF-ended rows run together and the file is
    quarantined as ragged. DuckDB loads it. Known, not fixed here (the lineSep option takes one
    character, and a CR left at the end of the last field would reach the rejects' raw values)."""
    if case.engine == "spark":
        request.applymarker(pytest.mark.xfail(strict=True, reason="Spark: one line ending a file"))
    header, first, second = case.rows_of("climate")[:3]
    content = f"{','.join(header)}\r\n{','.join(first)}\n{','.join(second)}\r\n"
    assert _loads(case, "climate", content) == []
    assert case.table("climate", lineage=False) == case.baseline["climate"]
