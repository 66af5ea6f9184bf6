"""Resources and the local engine, in-process (one test writes with the local Spark session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from climate_glue.lake import LocalLake
from climate_glue.warehouse import resolve_dsn

from climate_assets.local_glue.glue_client import LocalGlueClient


def test_job_reference_names_the_variable_not_the_url(monkeypatch, tmp_path):
    from climate_assets.environments import local_resources
    from climate_assets.settings import Settings

    monkeypatch.setenv("CLIMATE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("CLIMATE_WAREHOUSE_URL", raising=False)
    warehouse = local_resources(Settings.from_env())["warehouse"]
    assert warehouse.job_reference() == f"pgserver:{tmp_path / 'pgdata'}"
    monkeypatch.setenv("CLIMATE_WAREHOUSE_URL", "postgresql://u:hunter2@db:5432/climate")
    warehouse = local_resources(Settings.from_env())["warehouse"]
    assert warehouse.job_reference() == "env:CLIMATE_WAREHOUSE_URL"
    assert "hunter2" not in repr(warehouse)  # the URL is not in the resource's config
    assert resolve_dsn("env:CLIMATE_WAREHOUSE_URL") == "postgresql://u:hunter2@db:5432/climate"


def test_unknown_or_unset_warehouse_reference_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE is not set"):
        resolve_dsn("env:NOT_SET_ANYWHERE")
    with pytest.raises(ValueError, match="unknown warehouse reference"):
        resolve_dsn("postgresql://u:p@h/db")


def _tree(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


def test_publish_swaps_a_partition_and_replaces_exactly_it(tmp_path):
    lake = LocalLake(tmp_path)
    for day, text in (("01", "old-1"), ("02", "old-2")):
        lake.write_text(f"processed/x/year=2024/month=07/day={day}/part-0.parquet", text)
    lake.write_text("_staging/run/processed/x/year=2024/month=07/day=02/part-9.parquet", "new-2")
    lake.publish(
        "_staging/run/processed/x/year=2024/month=07/day=02",
        "processed/x/year=2024/month=07/day=02",
    )
    assert _tree(tmp_path / "processed/x") == {
        "year=2024/month=07/day=01/part-0.parquet": "old-1",
        "year=2024/month=07/day=02/part-9.parquet": "new-2",
    }
    assert not (tmp_path / "_staging/run/processed/x/year=2024/month=07/day=02").exists()


def test_publish_into_a_new_place_and_refuses_keys_with_dotdot(tmp_path):
    lake = LocalLake(tmp_path)
    lake.write_text("_staging/r/curated/y/part-0.parquet", "first")
    lake.publish("_staging/r/curated/y", "curated/y")
    assert (tmp_path / "curated/y/part-0.parquet").read_text() == "first"
    with pytest.raises(ValueError, match=r"\.\."):
        lake.path("raw/../../etc/passwd")


def test_local_glue_client_reports_a_failing_script_as_a_failed_run(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        "def main(argv):\n"
        "    if argv[:4] != ['--lake-root', '/l', '--run-id', 'r1']:\n"
        "        raise AssertionError(argv)\n"
        "    raise ValueError('raw/climate/date=2024-07-02/a.csv: empty file')\n"
    )
    sessions = []
    client = LocalGlueClient(
        {"my-job": script}, session_factory=lambda: sessions.append(1) or object()
    )
    arguments = {"--lake-root": "/l", "--run-id": "r1"}
    run_id = client.start_job_run(JobName="my-job", Arguments=arguments)["JobRunId"]
    job_run = client.get_job_run(JobName="my-job", RunId=run_id)["JobRun"]
    assert job_run["JobRunState"] == "FAILED"
    assert job_run["ErrorMessage"] == "ValueError: raw/climate/date=2024-07-02/a.csv: empty file"
    assert job_run["GlueVersion"] == "local-duckdb"
    assert sessions == []  # a DuckDB job (the default engine) starts no Spark session
    spark = {**arguments, "--engine": "spark"}
    client.start_job_run(JobName="my-job", Arguments=spark)
    client.start_job_run(JobName="my-job", Arguments=spark)
    assert sessions == [1]  # one session for every Spark job of the run
    with pytest.raises(KeyError, match="no Glue job named 'other'"):
        client.start_job_run(JobName="other", Arguments={})


def test_local_spark_writes_no_checksum_or_marker_files_and_runs_the_engines_jvm_options(
    spark, tmp_path
):
    frame = spark.createDataFrame([("2024-07-01", 1), ("2024-07-02", 2)], "date string, n int")
    frame.write.partitionBy("date").parquet(str(tmp_path / "out"))
    written = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert [p for p in written if p.endswith(".crc") or "_SUCCESS" in p] == []
    assert {p.split("/")[0] for p in written} == {"date=2024-07-01", "date=2024-07-02"}
    arguments = list(
        spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    )
    assert {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"} <= set(arguments)


def test_spark_java_options_reach_the_local_engine_after_its_own(monkeypatch):
    from climate_assets.environments import local_resources
    from climate_assets.settings import Settings

    monkeypatch.setenv("CLIMATE_SPARK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=4")
    glue = local_resources(Settings.from_env())["glue"]
    assert glue.spark_java_options == "-XX:TieredStopAtLevel=4"


def test_the_duckdb_memory_limit_reaches_each_jobs_engine_which_spills_in_the_state(
    monkeypatch, tmp_path
):
    from climate_glue.engines import open_engine
    from climate_glue.runtime import engine_options, parse_args

    from climate_assets.environments import local_resources
    from climate_assets.settings import Settings

    monkeypatch.setenv("CLIMATE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("CLIMATE_DUCKDB_MEMORY_LIMIT", "64MB")
    glue = local_resources(Settings.from_env())["glue"]
    argv = ["--lake-root", str(tmp_path / "lake"), "--run-id", "r1", "--warehouse", "env:X"]
    for name, value in {"--engine": glue.engine, **glue.engine_arguments()}.items():
        argv += [name, value]
    engine = open_engine(glue.engine, **engine_options(parse_args(argv)))
    try:
        found = engine.rows(
            "SELECT current_setting('memory_limit') AS memory_limit,"
            " current_setting('temp_directory') AS spill"
        )[0]
        # Twice the limit in one table: DuckDB keeps it by spilling, into the state folder.
        engine.sql(
            "SELECT repeat('x', 100) || CAST(id AS STRING) AS s FROM range(1000000) AS t(id)", True
        )
        spilled = [
            Path(r["path"]) for r in engine.rows("SELECT path FROM duckdb_temporary_files()")
        ]
    finally:
        engine.close()
    assert found == {"memory_limit": "61.0 MiB", "spill": str(tmp_path / "duckdb-tmp")}
    assert spilled and {p.parent for p in spilled} == {tmp_path / "duckdb-tmp"}
    assert not any((tmp_path / "duckdb-tmp").glob("*"))  # DuckDB removed them on close


def test_a_duckdb_memory_limit_without_a_unit_is_refused_naming_the_variable(monkeypatch):
    from climate_assets.settings import Settings

    monkeypatch.setenv("CLIMATE_DUCKDB_MEMORY_LIMIT", "512")
    with pytest.raises(ValueError, match="CLIMATE_DUCKDB_MEMORY_LIMIT='512'"):
        Settings.from_env()
