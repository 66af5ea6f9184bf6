"""Run failure alerts: a real failed Dagster run, published to SNS (moto) or to the log."""

from __future__ import annotations

import json
import logging

import boto3
import dagster as dg
import pytest
from moto import mock_aws

from climate_assets.dagster_compat import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from climate_assets.defs.automation.alerts import (
    FAILURE_SENSOR,
    LogAlerts,
    SnsAlerts,
    alerts_resource,
    run_failure_alerts,
)
from climate_assets.partitions import daily_partitions

REGION = "eu-west-1"


@dg.multi_asset(  # backfill_policy is stable on multi_asset (beta on asset)
    specs=[dg.AssetSpec("climate_data")],
    partitions_def=daily_partitions("2024-01-01"),
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def climate_data() -> None:
    raise ValueError("raw/climate/date=2024-07-02/climate.csv: missing required column(s): date")


@pytest.fixture(scope="module")
def failed_run():
    """A failed range run of a partitioned asset, and its instance."""
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [climate_data],
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: "2024-07-01",
                ASSET_PARTITION_RANGE_END_TAG: "2024-07-03",
            },
            raise_on_error=False,
        )
        assert not result.success
        yield instance, result


def _invoke(failed_run, alerts) -> None:
    instance, result = failed_run
    context = dg.build_run_status_sensor_context(
        sensor_name=FAILURE_SENSOR,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"alerts": alerts},
    ).for_run_failure()
    run_failure_alerts(context)


def test_failure_is_published_to_the_sns_topic(failed_run):
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="climate-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        _invoke(failed_run, alerts_resource(topic))

        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    [message] = [json.loads(m["Body"]) for m in messages]
    assert "climate_data" in message["Subject"] and "2024-07-01..2024-07-03" in message["Subject"]
    body = message["Message"]
    assert "Assets: climate_data" in body
    assert "Partitions: 2024-07-01..2024-07-03" in body
    assert "missing required column(s): date" in body
    assert failed_run[1].run_id in body


def test_without_a_topic_the_failure_is_logged(failed_run, caplog):
    assert isinstance(alerts_resource(None), LogAlerts)
    assert isinstance(alerts_resource("arn:aws:sns:eu-west-1:123456789012:t"), SnsAlerts)
    with caplog.at_level(logging.ERROR, logger="climate_assets.defs.automation.alerts"):
        _invoke(failed_run, LogAlerts())
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name == "climate_assets.defs.automation.alerts"
    )
    assert "climate-assets run failed: climate_data [2024-07-01..2024-07-03]" in logged
    assert "missing required column(s): date" in logged
