"""The private names the project relies on, each still where it was and doing what it did.

Dagster's are imported through ``climate_assets.dagster_compat`` (the one module that imports
them); dagster-aws's ``PipesGlueClient._extract_dagster_metadata`` is overridden in
``climate_assets.resources.glue_pipes``. An upgrade that moves or changes one fails here, not
in a run.
"""

from __future__ import annotations

import inspect
import textwrap

import dagster as dg
import pytest

from climate_assets import dagster_compat
from climate_assets.local_glue.glue_client import LocalGlueClient
from climate_assets.resources.pipes_readers import TempFileMessageReader
from climate_assets.steps.metadata import with_metadata


def test_partition_tags_are_the_ones_dagster_puts_on_a_run():
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01")

    @dg.asset(partitions_def=partitions)
    def daily() -> None:
        pass

    job = dg.define_asset_job("daily_job", [daily])
    defs = dg.Definitions(assets=[daily], jobs=[job])
    instance = dg.DagsterInstance.ephemeral()
    defs.resolve_job_def("daily_job").execute_in_process(
        instance=instance, partition_key="2024-01-02"
    )
    defs.resolve_job_def("daily_job").execute_in_process(
        instance=instance,
        tags={
            dagster_compat.ASSET_PARTITION_RANGE_START_TAG: "2024-01-03",
            dagster_compat.ASSET_PARTITION_RANGE_END_TAG: "2024-01-04",
        },
    )
    single, ranged = reversed(instance.get_runs())
    assert single.tags[dagster_compat.PARTITION_NAME_TAG] == "2024-01-02"
    materialized = instance.fetch_materializations(daily.key, limit=10).records
    days = sorted(
        r.asset_materialization.partition for r in materialized if r.run_id == ranged.run_id
    )
    assert days == ["2024-01-03", "2024-01-04"]  # the range tags are what Dagster reads


def test_in_progress_statuses_are_the_started_and_unfinished_ones():
    in_progress = set(dagster_compat.IN_PROGRESS_RUN_STATUSES)
    assert {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED} <= in_progress
    for status in in_progress:
        assert not dg.DagsterRun(job_name="j", status=status).is_finished
    assert dg.DagsterRunStatus.NOT_STARTED not in in_progress  # recovery.py adds it itself


def test_instigator_status_has_the_states_status_reads(tmp_path):
    """``climate-assets status`` reads each stored sensor or schedule state's status."""
    status = dagster_compat.InstigatorStatus
    names = {"RUNNING", "AUTOMATICALLY_RUNNING", "STOPPED", "DECLARED_IN_CODE"}
    assert names <= {s.name for s in status}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert instance.all_instigator_state() == []  # nothing stored: the code's default


def test_materialize_result_is_rebuilt_with_every_field():
    check = dg.AssetCheckResult(passed=True, asset_key="a", check_name="c")
    result = dg.MaterializeResult(
        asset_key="a",
        metadata={"rows": 1},
        check_results=[check],
        data_version=dg.DataVersion("v1"),
        tags={"t": "x"},
        value=7,
    )
    rebuilt = with_metadata(result, {"more": 2})
    assert rebuilt.metadata == {"rows": 1, "more": 2}
    for name in inspect.signature(dg.MaterializeResult).parameters:
        if name != "metadata":
            assert getattr(rebuilt, name) == getattr(result, name), name


# --- dagster-aws's PipesGlueClient, as ClimateGlueClient extends it ------------------------

REPORTING_SCRIPT = """
from climate_glue.runtime import PIPES_CONTEXT_ARGUMENT, PIPES_MESSAGES_ARGUMENT
from dagster_pipes import (
    DAGSTER_PIPES_CONTEXT_ENV_VAR,
    DAGSTER_PIPES_MESSAGES_ENV_VAR,
    PipesContext,
    PipesDefaultContextLoader,
    PipesDefaultMessageWriter,
    PipesMappingParamsLoader,
)


def main(argv):
    args = dict(zip(argv[::2], argv[1::2]))
    params = PipesMappingParamsLoader({
        DAGSTER_PIPES_CONTEXT_ENV_VAR: args[PIPES_CONTEXT_ARGUMENT],
        DAGSTER_PIPES_MESSAGES_ENV_VAR: args[PIPES_MESSAGES_ARGUMENT],
    })
    with PipesContext(params, PipesDefaultContextLoader(), PipesDefaultMessageWriter()) as pipes:
        pipes.report_asset_materialization(metadata={"rows": 3})
"""


def test_pipes_glue_client_method_that_glue_pipes_overrides_keeps_its_signature():
    from dagster_aws.pipes import PipesGlueClient

    method = PipesGlueClient._extract_dagster_metadata
    assert list(inspect.signature(method).parameters) == ["self", "response"]


def test_glue_client_run_reports_the_run_it_started_and_its_metadata(tmp_path):
    """``run`` starts the job through the client it was given (which records the run id) and
    takes the run's metadata from the overridden ``_extract_dagster_metadata``, not
    dagster-aws's own."""
    from climate_assets.resources.glue_pipes import ClimateGlueClient

    script = tmp_path / "report.py"
    script.write_text(textwrap.dedent(REPORTING_SCRIPT))
    glue = LocalGlueClient({"report": script}, session_factory=lambda: pytest.fail("no Spark"))
    started: list[tuple[str, str]] = []

    @dg.asset
    def reported(context):  # no annotation: a string here (__future__), which Dagster refuses
        pipes = ClimateGlueClient(
            client=glue,
            context_injector=dg.PipesTempFileContextInjector(),
            message_reader=TempFileMessageReader(),
            on_run=lambda job, run_id: started.append((job, run_id)),
        )
        invocation = pipes.run(context=context, start_job_run_params={"JobName": "report"})
        return invocation.get_materialize_result()

    result = dg.materialize([reported])
    assert result.success
    ((job, run_id),) = started
    metadata = result.asset_materializations_for_node("reported")[0].metadata
    assert job == "report"
    assert metadata["rows"].value == 3  # what the script reported
    assert metadata["glue_job_run_id"].value == run_id  # glue_cost.run_metadata's
    assert "glue_execution_seconds" in metadata
    assert not any(key.startswith("AWS Glue") for key in metadata)  # not dagster-aws's


def test_planned_batch_storage_uses_what_dagster_postgres_batches_with():
    """The names ``PlannedBatchEventLogStorage`` writes a batch with are still dagster-postgres's,
    with the parameters it passes; what it stores is read back in ``test_range_records.py``."""
    storage = dagster_compat.PlannedBatchEventLogStorage
    assert "id" in dagster_compat.SqlEventLogStorageTable.c
    assert list(inspect.signature(storage.prepare_insert_event_batch).parameters) == [
        "self",
        "events",
    ]
    assert list(inspect.signature(storage._store_asset_event).parameters) == [
        "self",
        "conn",
        "event",
        "event_id",
    ]
    assert list(inspect.signature(storage.store_asset_check_event).parameters) == [
        "self",
        "event",
        "event_id",
    ]
    for name in ("_connect", "index_transaction"):
        assert callable(getattr(storage, name))
