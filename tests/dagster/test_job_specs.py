"""The job spec table (climate_assets.job_specs) against the contract and the scripts on disk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import dagster as dg
from climate_glue.contract import DERIVED, RAW_DATASETS

from climate_assets.job_specs import DERIVED_METRICS, JOB_SPECS, PROCESSING_JOBS, engine_for
from climate_assets.settings import ENV_AWS, GLUE_SCRIPTS_DIR, Settings


def test_each_raw_dataset_has_one_processing_job_writing_its_asset():
    assert sorted(spec.dataset for spec in PROCESSING_JOBS) == sorted(RAW_DATASETS)
    for spec in PROCESSING_JOBS:
        assert spec.assets == (dg.AssetKey(spec.raw_dataset.asset),), spec.name


def test_the_derived_job_writes_the_contracts_derived_assets_in_order():
    assert DERIVED_METRICS.raw_dataset is None
    assert DERIVED_METRICS.assets == tuple(dg.AssetKey(d.asset) for d in DERIVED)


def test_every_job_runs_a_script_that_exists_and_names_its_job():
    for name, spec in JOB_SPECS.items():
        script = Path(GLUE_SCRIPTS_DIR, spec.script)
        assert script.is_file(), script
        assert f"Glue job `{name}`" in script.read_text(), script


def test_jobs_run_spark_on_aws_and_the_configured_engine_locally(tmp_path):
    local = Settings(state_dir=tmp_path, lake_root=tmp_path / "lake", engine="duckdb")
    assert engine_for(local) == "duckdb"
    assert engine_for(dataclasses.replace(local, engine="spark")) == "spark"
    assert engine_for(dataclasses.replace(local, environment=ENV_AWS)) == "spark"
