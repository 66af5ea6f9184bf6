"""One contract, two engines: the same landing zone through DuckDB and Spark gives the same data.

The landing zone is the generator's plus the bad-input catalog's row-level cases (every row rule,
both duplicate rules, dirty numbers and dates, white space, RFC 4180 quoting, CRLF, a BOM, header
case, an extra column, small counts). The whole graph runs once per engine through Dagster
(in-process, as ``climate-assets demo`` does), each on its own copy of the landing zone and its
own embedded PostgreSQL; then each file-level catalog case (files that must be quarantined) runs
through the real job script on both. Compared value by value: lake Parquet (values and physical
types), PostgreSQL rows, CSV and JSON exports, rejects (rule and row number), quarantine
decisions and reasons, asset check results and the materializations' counts. Only the run's own
stamp (``_processed_at``, ``_run_id``) differs between the runs, and is left out.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from climate_glue.contract import DERIVED, RAW_DATASETS, WAREHOUSE_SCHEMA
from climate_glue.raw import RawFilesError
from climate_glue.warehouse import EMBEDDED_DATABASE
from psycopg import sql

from climate_assets.constants import WHOLE_GRAPH_JOB
from climate_assets.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from climate_assets.definitions import build_definitions
from climate_assets.local_glue.spark import local_spark_session
from climate_assets.settings import GLUE_SCRIPTS_DIR, Settings
from climate_cli.demo import quiet_console
from climate_cli.generate import generate_landing_zone

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

ENGINES = ("duckdb", "spark")
START, END = date(2024, 7, 1), date(2024, 7, 3)
STAMP = {"_processed_at", "_run_id"}
DAY1 = "raw/{dataset}/date=2024-07-01/"

CLIMATE_HEADER = (
    "location_id,date,temp_max_c,temp_min_c,precipitation_mm,humidity_pct,wind_speed_ms,aqi"
)
HEALTH_HEADER = (
    "location_id,date,heat_illness_cases,respiratory_cases,cardiovascular_cases,"
    "waterborne_cases,vector_borne_cases,ed_visits"
)
HOSPITAL_HEADER = (
    "hospital_id,location_id,hospital_name,date,total_beds,beds_occupied,icu_beds,"
    "icu_beds_occupied,has_backup_power,in_flood_zone"
)


def _row_cases(lake: Path, location: str) -> dict[str, bytes]:
    """Extra landing files with the catalog's row-level cases (keys relative to the lake)."""
    d = "2024-07-01"
    climate = [
        f"ZZ1,{d},30,20,0,50,1,10",  # unknown location
        f"{location},{d},75,20,0,50,1,10",  # temp out of range (a conflicting duplicate too)
        f"{location},{d},1e999,20,0,50,1,10",  # overflows to infinity: not a number
        f"{location},2024-02-30,30,20,0,50,1,10",  # not a date
        f"{location},{d},30,20,0,50,1,99999999999",  # too large for an int
        f"{location},{d},\x0b 31.5\t,20,0,50,1,10",  # white space Java's \\s has
        f"{location},{d},30,35,0,50,1,10",  # temp_min above temp_max
        f"{location},{d},30,20,-1,50,1,10",  # negative precipitation
        f"{location},{d},+30.50,.5,0,,,",  # signs, a bare fraction, absent optionals
    ]
    health = [
        f"ZZ2,{d},1,1,1,1,1,",
        f"ZZ3,{d},-1,0,0,0,0,",
        f"ZZ3,{d},1,0,0,0,0,",  # conflicting duplicate key: both rejected
        f"ZZ4,{d},2,0,0,0,0,5",
        f"ZZ4,{d},2,0,0,0,0,5",  # identical duplicate: the last one kept
    ]
    hospital = [
        f'Q1,{location},"General, ""North""\r\nCampus",{d},100,50,10,5,YES,n',
        f"Q2,{location},Plain,{d},100,150,10,5,true,false",  # occupied above total
        f"Q3,{location},Bools,{d},100,50,10,5,maybe,0",  # not a boolean
        f"0004,{location},Zero,{d},0,0,0,0,y,1",  # leading zeros, no beds
    ]
    return {
        DAY1.format(dataset="climate") + "zz catalog.csv": (
            "\ufeff"
            + CLIMATE_HEADER.upper().replace(",", " , ")
            + ",extra\r\n"
            + "".join(f"{r},x\r\n" for r in climate)
        ).encode(),
        DAY1.format(dataset="health") + "zz_catalog.csv": (
            HEALTH_HEADER + "\n" + "\n".join(health) + "\n"
        ).encode(),
        DAY1.format(dataset="hospital") + "zz_catalog.csv": (
            HOSPITAL_HEADER + "\n" + "\n".join(hospital) + "\n"
        ).encode(),
    }


# Files each of which must be quarantined whole, with the same reason on both engines.
FILE_CASES = {
    "empty.csv": b"",
    "bom only.csv": b"\xef\xbb\xbf",
    "header only.csv": (CLIMATE_HEADER + "\n").encode(),
    "semicolons.csv": (CLIMATE_HEADER.replace(",", ";") + "\n").encode(),
    "ragged.csv": (CLIMATE_HEADER + "\nA,2024-07-01,1,1,1,1,1,1\nA,2024-07-01,1\n").encode(),
    "truncated.csv": (CLIMATE_HEADER + '\nA,2024-07-01,1,1,1,1,1,1\nB,"2024-07').encode(),
    "latin1.csv": (
        CLIMATE_HEADER + "\nA,2024-07-01,1,1,1,1,1,1\nB\xe4,2024-07-01,1,1,1,1,1,1\n"
    ).encode("latin-1"),
    "missing column.csv": b"location_id,date\nA,2024-07-01\n",
}


@pytest.fixture(scope="module")
def landing_with_cases(tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("parity-landing") / "lake"
    generate_landing_zone(lake, locations=6, days=3, start=START, seed=11)
    location = (lake / "raw/climate/date=2024-07-01/climate.csv").read_text().splitlines()[1]
    for key, content in _row_cases(lake, location.split(",")[0]).items():
        (lake / key).write_bytes(content)
    return lake


def _run_graph(engine: str, landing: Path, state: Path) -> dg.ExecuteInProcessResult:
    shutil.copytree(landing, state / "lake")
    settings = replace(
        Settings.from_env(),
        state_dir=state,
        lake_root=state / "lake",
        engine=engine,
    )
    job = build_definitions(settings).resolve_job_def(WHOLE_GRAPH_JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: START.isoformat(),
                ASSET_PARTITION_RANGE_END_TAG: END.isoformat(),
            },
            raise_on_error=False,
            run_config=quiet_console(),
        )


def _quarantine_cases(engine: str, state: Path) -> dict[str, object]:
    """Each bad file alone in a fresh day folder through process-climate-data: the error."""
    path = Path(GLUE_SCRIPTS_DIR, "process_climate_data.py")
    spec = importlib.util.spec_from_file_location(f"parity_{engine}", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    outcomes = {}
    for i, (name, content) in enumerate(FILE_CASES.items()):
        day = f"2024-08-{i + 1:02d}"
        target = state / "lake" / f"raw/climate/date={day}/{name}"
        target.parent.mkdir(parents=True)
        target.write_bytes(content)
        argv = [
            "--lake-root", str(state / "lake"), "--run-id", f"quarantine-{i}",
            "--warehouse", f"pgserver:{state / 'pgdata'}", "--engine", engine,
            "--start-date", day, "--end-date", day,
        ]  # fmt: skip
        with pytest.raises(RawFilesError) as failure:
            script.main(argv)
        reason = json.loads(
            (state / "lake/quarantine" / f"raw/climate/date={day}/{name}.reason.json").read_text()
        )
        outcomes[name] = (
            str(failure.value),
            target.exists(),
            (state / "lake/quarantine" / f"raw/climate/date={day}/{name}").read_bytes() == content,
            reason["reason"],
        )
    return outcomes


@pytest.fixture(scope="module")
def runs(landing_with_cases, tmp_path_factory) -> dict[str, dict]:
    # The catalog rejects many rows: a reject rate of 1 lets the derived metrics run.
    patch = pytest.MonkeyPatch()
    patch.setenv("CLIMATE_MAX_REJECT_RATE", "1.0")
    out = {}
    for engine in ENGINES:
        if engine == "spark":
            local_spark_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
        state = tmp_path_factory.mktemp(f"parity-{engine}")
        result = _run_graph(engine, landing_with_cases, state)
        out[engine] = {
            "state": state,
            "result": result,
            "quarantine": _quarantine_cases(engine, state),
        }
    patch.undo()
    return out


# --------------------------------------------------------------------------- readers


def _parquet(state: Path, prefix: str) -> tuple[list[str], list[tuple]]:
    """(each column's physical and Arrow type, sorted rows without the run's stamp).

    The logical annotation of a plain 64-bit integer differs (DuckDB writes Int(64, signed),
    Spark none); both are INT64 that every reader reads as a signed 64-bit integer."""
    files = sorted((state / "lake" / prefix).rglob("*.parquet"))
    assert files, f"no Parquet under {prefix}"
    parquet = pq.ParquetFile(files[0])
    arrow = parquet.schema_arrow
    types = [
        f"{column.name}:{column.physical_type}:{arrow.field(column.name).type}"
        for column in (parquet.schema.column(i) for i in range(len(parquet.schema)))
    ]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    listed = ", ".join(f"'{f}'" for f in files)
    rows = con.execute(
        f"SELECT * EXCLUDE (_processed_at, _run_id) FROM read_parquet([{listed}],"
        " hive_partitioning = false) ORDER BY ALL"
    ).fetchall()
    stamps = con.execute(
        f"SELECT DISTINCT typeof(_processed_at) FROM read_parquet([{listed}])"
    ).fetchall()
    assert stamps == [("TIMESTAMP WITH TIME ZONE",)]
    return types, rows


def _text(state: Path, prefix: str, fmt: str) -> list[tuple]:
    """Rows of a CSV or JSON output as text, nulls and empty strings alike (a CSV cannot tell
    them apart), with its partition folders; doubles compared by value."""
    con = duckdb.connect()
    files = sorted(str(p) for p in (state / "lake" / prefix).rglob(f"*.{fmt}"))
    if not files:
        return []
    listed = ", ".join(f"'{f}'" for f in files)
    if fmt == "csv":
        source = f"read_csv([{listed}], all_varchar = true, hive_partitioning = true)"
    else:
        source = f"read_json([{listed}], format = 'newline_delimited', hive_partitioning = true)"
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    shown = ", ".join(
        f'coalesce(CASE WHEN TRY_CAST("{c}"::VARCHAR AS DOUBLE) IS NOT NULL'
        f' THEN TRY_CAST("{c}"::VARCHAR AS DOUBLE)::VARCHAR ELSE "{c}"::VARCHAR END, \'\')'
        for c in columns
        if c not in STAMP
    )
    return con.execute(f"SELECT {shown} FROM {source} ORDER BY ALL").fetchall()


def _table(state: Path, name: str) -> list[tuple]:
    import pgserver

    uri = pgserver.get_server(state / "pgdata").get_uri(EMBEDDED_DATABASE)
    with psycopg.connect(uri) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = %s ORDER BY ordinal_position",
                (WAREHOUSE_SCHEMA, name),
            )
            if r[0] not in STAMP
        ]
        listed = sql.SQL(", ").join(map(sql.Identifier, columns))
        query = sql.SQL("SELECT {} FROM {}.{} ORDER BY {}").format(
            listed, sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(name), listed
        )
        return conn.execute(query).fetchall()


PROCESSED = {d.asset: f"processed/{d.asset}" for d in RAW_DATASETS.values()}
CURATED = {d.asset: f"curated/{d.asset}" for d in DERIVED}


# --------------------------------------------------------------------------- the comparisons


def test_both_runs_succeed(runs):
    for engine in ENGINES:
        result = runs[engine]["result"]
        assert result.success, f"{engine}: {[e.message for e in result.all_events if e.is_failure]}"


@pytest.mark.parametrize("asset", [*PROCESSED, *CURATED])
def test_lake_parquet_values_and_types_are_equal(runs, asset):
    prefix = {**PROCESSED, **CURATED}[asset]
    duck = _parquet(runs["duckdb"]["state"], prefix)
    spark = _parquet(runs["spark"]["state"], prefix)
    assert duck[0] == spark[0]
    assert duck[1] == spark[1]
    assert len(duck[1]) > 0


@pytest.mark.parametrize("asset", [*PROCESSED, *CURATED])
def test_postgres_rows_are_equal(runs, asset):
    duck, spark = (_table(runs[e]["state"], asset) for e in ENGINES)
    assert duck == spark and duck


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("asset", list(CURATED))
def test_exports_are_equal(runs, asset, fmt):
    duck, spark = (_text(runs[e]["state"], f"exports/{fmt}/{asset}", fmt) for e in ENGINES)
    assert duck == spark and duck


@pytest.mark.parametrize("dataset", [d.name for d in RAW_DATASETS.values()])
def test_rejects_are_equal_with_rule_and_row(runs, dataset):
    duck, spark = (_text(runs[e]["state"], f"rejects/{dataset}", "csv") for e in ENGINES)
    assert duck == spark
    if dataset != "locations":
        assert duck, f"the catalog rejects rows of {dataset}"


def test_quarantine_decisions_and_reasons_are_equal(runs):
    duck, spark = runs["duckdb"]["quarantine"], runs["spark"]["quarantine"]
    assert duck == spark
    assert set(duck) == set(FILE_CASES)
    for error, still_there, moved_unchanged, _ in duck.values():
        assert not still_there and moved_unchanged and error


def _checks(result) -> dict:
    """Each check's outcome and metadata, without what describes the job run itself (its Glue
    run id and seconds), which the Pipes client adds to every report of the run."""
    return {
        (e.asset_key.to_user_string(), e.check_name): (
            e.passed,
            {k: v.value for k, v in e.metadata.items() if not k.startswith(("glue_", "spark_"))},
        )
        for e in result.get_asset_check_evaluations()
    }


def test_check_results_are_equal(runs):
    duck, spark = (_checks(runs[e]["result"]) for e in ENGINES)
    assert duck == spark
    assert len(duck) > 30


COUNTS = ("rows", "rows_rejected", "rejects_by_rule", "duplicates_dropped", "rows_per_day")


def _counts(result) -> dict:
    out = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata = {k: v.value for k, v in materialization.metadata.items()}
        out[materialization.asset_key.to_user_string()] = {
            k: metadata[k] for k in COUNTS if k in metadata
        }
        assert metadata.get("engine") in (None, *ENGINES)
    return out


def test_materialization_counts_are_equal_and_name_the_engine(runs):
    duck, spark = (_counts(runs[e]["result"]) for e in ENGINES)
    assert duck == spark
    for engine in ENGINES:
        engines = {
            e.event_specific_data.materialization.metadata["engine"].value
            for e in runs[engine]["result"].get_asset_materialization_events()
            if "engine" in e.event_specific_data.materialization.metadata
        }
        assert engines == {engine}
