"""Fuzzing the raw intake (issue 13): every landing file has exactly one outcome.

Hypothesis starts from valid files of each dataset and mutates them (truncation at any byte,
inserted bytes, other encodings, gzip, other delimiters, header cells dropped, repeated or
renamed, columns dropped, blank lines, 1 MiB fields, odd field text, mixed line endings), drops
one or two of them beside the partition's generated file (``zz_case.csv``, ``zz_case_2.csv``),
and runs the real job (DuckDB, in-process, as the local Glue client calls it). Whatever the
bytes, each case file is either

- quarantined: moved unchanged (its original bytes) with a reason file, the job's error names
  it (and every other quarantined file), nothing is published, and a rerun with no one
  touching anything processes what is left; or
- processed: it stays in the landing zone and each of its data rows is either published (its
  ``_source_file``) or a reject with its rule.

Either way the published data of the other day (set up once per module) stays byte for byte
as it was, in the lake and in PostgreSQL. The examples are derandomized, so CI runs the same
ones every time (about 90 s); ``FUZZ_INTAKE_EXAMPLES=<n>`` explores n fresh ones per test. A
mutation plan is plain data, so a failing example reads as a recipe: each one found is kept as
an explicit case in tests/e2e/test_bad_inputs.py, which runs on both engines.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from climate_glue.quarantine import REASON_SUFFIX
from climate_glue.raw import RawFilesError
from climate_glue.warehouse import EMBEDDED_DATABASE
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from climate_assets.resources.embedded_postgres import embedded_server
from climate_assets.resources.warehouse import ensure_database
from climate_cli.generate import generate_landing_zone
from tests.support import DAY, TABLES, Published, csv_fields_unlimited

pytestmark = pytest.mark.e2e

OTHER_DAY = "2024-07-02"
DAILY = ("climate", "health", "hospital")
MIB = 1 << 20
KEPT_ROWS = 2  # of the day's generated rows, in the landing zone
CASE_FILES = ("zz_case.csv", "zz_case_2.csv")  # after the generated file, in file order

# --------------------------------------------------------------------------- mutation plans
# A plan is (text mutations, encoding, byte mutations), each mutation a tuple of plain values;
# indexes are taken modulo what they index, so any plan applies to any file.

CELL_NAMES = st.sampled_from(["", " ", "Location_ID ", "DATE", "note", "aqi", "date", "x,y", '"'])
FIELD_TEXT = st.text(max_size=12) | st.sampled_from(["é", "€", "\x00", '"', '"a""b"', "a\nb"])
TEXT_MUTATIONS = st.one_of(
    st.tuples(st.just("line_endings"), st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=1)),
    st.tuples(st.just("delimiter"), st.sampled_from([";", "\t", "|"])),
    st.tuples(st.just("header_drop"), st.integers(0, 20)),
    st.tuples(st.just("header_repeat"), st.integers(0, 20)),
    st.tuples(st.just("header_rename"), st.integers(0, 20), CELL_NAMES | st.text(max_size=8)),
    st.tuples(st.just("column_drop"), st.integers(0, 20)),
    st.tuples(st.just("blank_line"), st.integers(0, 20), st.sampled_from(["", " ", "\t", "  "])),
    st.tuples(
        st.just("huge_field"),
        st.integers(0, 20),
        st.integers(0, 20),
        st.sampled_from([MIB, MIB + 1]),
        st.booleans(),  # quoted, with commas and line breaks inside
    ),
    st.tuples(st.just("field"), st.integers(0, 20), st.integers(0, 20), FIELD_TEXT),
)
ENCODINGS = st.sampled_from(  # UTF-8 more often: the mutations after it have more to find
    ["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16", "utf-16-le", "utf-16-be"]
)
CSV_BYTES = st.lists(  # bytes that mean something to a CSV reader
    st.sampled_from([b'"', b",", b"\n", b"\r", b" ", b"\xef\xbb\xbf", b"\x00"]),
    min_size=1,
    max_size=4,
).map(b"".join)
BYTE_MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.binary(min_size=1, max_size=6)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), CSV_BYTES),
    st.tuples(st.just("gzip")),
)
PLANS = st.tuples(
    st.lists(TEXT_MUTATIONS, max_size=3), ENCODINGS, st.lists(BYTE_MUTATIONS, max_size=2)
)
PLANS_PER_FILE = st.lists(PLANS, min_size=1, max_size=2)  # one or two case files a partition


def _cells(line: str) -> list[str]:
    return line.split(",")


def _set_field(lines: list[str], row: int, column: int, value: str) -> None:
    row = 1 + row % (len(lines) - 1) if len(lines) > 1 else 0
    cells = _cells(lines[row])
    cells[column % len(cells)] = value
    lines[row] = ",".join(cells)


def mutate(original: str, plan) -> bytes:
    """The bytes of ``original`` (a valid file, LF line ends) after the plan's mutations."""
    text_mutations, encoding, byte_mutations = plan
    lines, endings = original.splitlines(), ["\n"]
    for kind, *args in text_mutations:
        if kind == "line_endings":
            endings = args[0]
        elif kind == "delimiter":
            lines = [line.replace(",", args[0]) for line in lines]
        elif kind in ("header_drop", "header_repeat", "header_rename"):
            cells = _cells(lines[0])
            at = args[0] % len(cells)
            if kind == "header_drop":
                del cells[at]
            elif kind == "header_repeat":
                cells.insert(at, cells[at])
            else:
                cells[at] = args[1]
            lines[0] = ",".join(cells)
        elif kind == "column_drop":
            lines = [",".join(c[: args[0]] + c[args[0] + 1 :]) for c in map(_cells, lines)]
        elif kind == "blank_line":
            lines.insert(args[0] % (len(lines) + 1), args[1])
        elif kind == "huge_field":
            row, column, size, quoted = args
            value = '"' + ("ab,\n" * (size // 4)) + '"' if quoted else "x" * size
            _set_field(lines, row, column, value)
        elif kind == "field":
            _set_field(lines, *args)
    text = "".join(line + endings[i % len(endings)] for i, line in enumerate(lines))
    data = text.encode(encoding, errors="replace")
    for kind, *args in byte_mutations:
        if kind == "truncate":
            data = data[: args[0] % (len(data) + 1)]
        elif kind == "insert":
            at = args[0] % (len(data) + 1)
            data = data[:at] + args[1] + data[at:]
        elif kind == "gzip":
            data = gzip.compress(data, mtime=0)
    return data


def data_rows(content: bytes) -> int:
    """The file's data rows, as RFC 4180 counts them (blank lines are no rows)."""
    with csv_fields_unlimited():
        records = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
        return sum(1 for fields in list(records)[1:] if fields)


# --------------------------------------------------------------------------- the lake


@pytest.fixture(scope="module")
def two_published_days(tmp_path_factory):
    return publish_two_days(tmp_path_factory.mktemp("fuzz"))


def publish_two_days(state: Path) -> Published:
    """Two published days, and two valid case files per dataset whose keys are their own (so
    each row, mutated or not, reaches the rules and the load on its own, and each file is
    accounted for on its own):

    - daily: the day's generated file, split: its first rows stay in the landing zone (they are
      what the day publishes), the others are shared out between the two case files;
    - locations: the generated rows under fresh location ids (that nothing references).
    """
    generate_landing_zone(state / "lake", locations=6, days=2, start=date(2024, 7, 1), seed=5)
    server = embedded_server(str(state / "pgdata"))
    ensure_database(server.get_uri("postgres"), EMBEDDED_DATABASE)
    base = Published(state, "duckdb")
    base.originals = {}
    for dataset in DAILY:
        path = base.raw(dataset, f"{dataset}.csv")
        header, *rows = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join([header, *rows[:KEPT_ROWS]]) + "\n", encoding="utf-8")
        rows = rows[KEPT_ROWS:]
        base.originals[dataset] = [_csv(header, rows[0::2]), _csv(header, rows[1::2])]
    header, *rows = base.raw("locations", "locations.csv").read_text(encoding="utf-8").splitlines()
    base.originals["locations"] = [_csv(header, [f"{n}{row}" for row in rows]) for n in (8, 9)]
    base.run("locations")
    for dataset in DAILY:
        base.run(dataset, DAY, OTHER_DAY)
    base.baseline = {d: base.table(d, lineage=False) for d in TABLES}
    base.other_day = _other_day(base)
    return base


def _csv(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def _other_day(base: Published) -> tuple:
    """The other day's processed files (hashes) and PostgreSQL rows (lineage included)."""
    day = date.fromisoformat(OTHER_DAY)
    files = {k: v for k, v in base.processed_tree().items() if "/day=02/" in k}
    rows = {d: [r for r in base.table(d) if day in r] for d in DAILY}
    return files, rows


def _published_from(base: Published, dataset: str, key: str) -> int:
    with base.connect() as conn:
        return conn.execute(
            f"SELECT count(*) FROM climate_health.{TABLES[dataset]} WHERE _source_file = %s",
            (key,),
        ).fetchone()[0]


def one_outcome_each(base: Published, dataset: str, contents: list[bytes]) -> list[str]:
    """Run the job with ``contents`` as the case files; assert each file's one outcome."""
    names = CASE_FILES[: len(contents)]
    keys = [base.key(dataset, name) for name in names]
    tree, table = base.snapshot(dataset)
    for name, content in zip(names, contents, strict=True):
        base.raw(dataset, name).write_bytes(content)
    failure = None
    try:
        base.run(dataset)
    except RawFilesError as exc:
        failure = exc
    left = [base.raw(dataset, name).exists() for name in names]
    quarantined = [k for k, stayed in zip(keys, left, strict=True) if not stayed]
    if quarantined:
        # The error names every quarantined file, and only those; nothing is published.
        assert failure is not None, "a file left the landing zone, yet the job succeeded"
        named = {e.key: e.problem for e in failure.errors}
        assert sorted(named) == quarantined and all(k in str(failure) for k in quarantined)
        for key, content in zip(keys, contents, strict=True):
            if key in quarantined:
                moved = base.lake / "quarantine" / key
                assert moved.read_bytes() == content  # unchanged, to the byte
                reason = json.loads(Path(f"{moved}{REASON_SUFFIX}").read_text())
                assert (reason["key"], reason["reason"]) == (key, named[key])
                assert reason["moved_by"] == f"catalog-{base.runs}"
        assert base.snapshot(dataset) == (tree, table)
        base.run(dataset)  # the rerun: what is left, and no one touched anything
    else:
        assert failure is None, (
            f"every file stayed in the landing zone, yet the job failed: {failure}"
        )
    for key, content, stayed in zip(keys, contents, left, strict=True):
        if stayed:  # each data row published or rejected with its rule
            rejected = [r for r in base.rejects(dataset) if r["_source_file"] == key]
            assert all(r["_reject_rule"] for r in rejected)
            assert _published_from(base, dataset, key) + len(rejected) == data_rows(content)
        else:
            assert _published_from(base, dataset, key) == 0
    if not any(left):
        assert base.table(dataset, lineage=False) == base.baseline[dataset]
    assert _other_day(base) == base.other_day
    outcomes = ["processed" if stayed else "quarantined" for stayed in left]
    event(" + ".join(outcomes))  # --hypothesis-show-statistics: how the examples split
    return outcomes


def _reset(base: Published, dataset: str) -> None:
    for name in CASE_FILES:
        base.raw(dataset, name).unlink(missing_ok=True)
    shutil.rmtree(base.lake / "quarantine", ignore_errors=True)


EXPLORE = os.environ.get("FUZZ_INTAKE_EXAMPLES")
FUZZ = settings(
    max_examples=int(EXPLORE or 40),
    deadline=None,
    derandomize=not EXPLORE,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def case_files(base: Published, dataset: str, plans: list) -> list[bytes]:
    """The first ``len(plans)`` case files of ``dataset``, each mutated by its plan."""
    return [mutate(base.originals[dataset][i], plan) for i, plan in enumerate(plans)]


@pytest.mark.parametrize("dataset", DAILY)
@FUZZ
@given(plans=PLANS_PER_FILE)
def test_every_daily_file_has_one_outcome(two_published_days, dataset, plans):
    try:
        one_outcome_each(
            two_published_days, dataset, case_files(two_published_days, dataset, plans)
        )
    finally:
        _reset(two_published_days, dataset)


@FUZZ
@given(plans=PLANS_PER_FILE)
def test_every_locations_file_has_one_outcome(two_published_days, plans):
    try:
        outcomes = one_outcome_each(
            two_published_days, "locations", case_files(two_published_days, "locations", plans)
        )
    finally:
        _reset(two_published_days, "locations")
    if "processed" in outcomes:  # put the published locations back for the next example
        two_published_days.run("locations")
