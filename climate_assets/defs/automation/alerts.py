"""Run failure alerts: a run-failure sensor that tells people which asset, partition and error.

The alerts resource has two implementations: ``LogAlerts`` (the embedded default: a clear
error line in the daemon's log and the sensor's tick) and ``SnsAlerts`` (publishes to the SNS
topic of CLIMATE_ALERT_TOPIC_ARN with boto3's standard retry mode).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dagster as dg
from climate_glue.aws import aws_client

from climate_assets.partitions import range_text, run_range
from climate_assets.steps.failures import step_failure_cause
from climate_assets.steps.retries import classify

FAILURE_SENSOR = "climate_run_failure_alerts"
SNS_SUBJECT_LIMIT = 100  # SNS rejects longer subjects
SNS_MESSAGE_LIMIT = 256 * 1024
ERROR_EXCERPT = 2000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailureAlert:
    run_id: str
    job_name: str
    assets: list[str]
    partitions: str  # "2024-07-01", "2024-07-01..2024-07-03" or "unpartitioned"
    errors: list[str]  # "step: message", one per failed step (or the run's own error)

    @property
    def subject(self) -> str:
        text = f"climate-assets run failed: {', '.join(self.assets) or self.job_name} [{self.partitions}]"
        return text if len(text) <= SNS_SUBJECT_LIMIT else text[: SNS_SUBJECT_LIMIT - 3] + "..."

    @property
    def message(self) -> str:
        lines = [
            f"Run {self.run_id} of job {self.job_name} failed.",
            f"Assets: {', '.join(self.assets) or '(whole job)'}",
            f"Partitions: {self.partitions}",
            "Errors:",
            *(f"  {error}" for error in self.errors),
        ]
        return "\n".join(lines)[:SNS_MESSAGE_LIMIT]


class AlertsResource(dg.ConfigurableResource):
    """Where failure alerts go."""

    def send(self, alert: FailureAlert) -> str:
        """Deliver the alert; returns where it went (for the sensor's log)."""
        raise NotImplementedError


class LogAlerts(AlertsResource):
    """No topic configured: the alert is an error in the log (the daemon's, and the tick's)."""

    def send(self, alert: FailureAlert) -> str:
        logger.error("%s\n%s", alert.subject, alert.message)
        return "log (CLIMATE_ALERT_TOPIC_ARN is not set)"


class SnsAlerts(AlertsResource):
    """Publishes each alert to an SNS topic; the region is the topic's own (from its ARN)."""

    topic_arn: str
    endpoint_url: str | None = None  # for tests against a local stand-in

    def send(self, alert: FailureAlert) -> str:
        region = self.topic_arn.split(":")[3]
        client = aws_client("sns", region, endpoint_url=self.endpoint_url)
        response = client.publish(
            TopicArn=self.topic_arn, Subject=alert.subject, Message=alert.message
        )
        return f"SNS {self.topic_arn} (message {response['MessageId']})"


def _partitions(tags: dict[str, str]) -> str:
    days = run_range(tags)
    return "unpartitioned" if days is None else range_text(days.start, days.end)


def retry_counts(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    """Step key -> how many times the step was retried in the run (its STEP_UP_FOR_RETRY events)."""
    counts: dict[str, int] = {}
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
    ).records
    for record in records:
        step = record.event_log_entry.step_key or ""
        counts[step] = counts.get(step, 0) + 1
    return counts


def failure_alert(context: dg.RunFailureSensorContext) -> FailureAlert:
    """What failed, for which partitions, and why, from the run and its failure events."""
    run = context.dagster_run
    assets = sorted(key.to_user_string() for key in run.asset_selection or [])
    retries = retry_counts(context.instance, run.run_id)
    errors = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        error = data.error
        while error is not None and error.cause is not None:  # the user code's own error
            error = error.cause
        text = " ".join((error.message if error else "unknown error").split())
        retried = retries.get(event.step_key, 0)
        how = f"retried {retried} time(s), then failed" if retried else "not retried"
        fault = classify(text).describe()
        cause = step_failure_cause(data)[:ERROR_EXCERPT]
        errors.append(f"{event.step_key} ({fault}; {how}): {cause}")
    if not errors:
        errors.append(" ".join((context.failure_event.message or "run failed").split()))
    if not assets:  # a job run without an explicit selection: the failed steps name the assets
        assets = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    return FailureAlert(run.run_id, run.job_name, assets, _partitions(run.tags), errors)


@dg.run_failure_sensor(
    name=FAILURE_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts (SNS when CLIMATE_ALERT_TOPIC_ARN is set, else the log) on a failed run.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
    alert = failure_alert(context)
    where = alerts.send(alert)
    context.log.error(f"{alert.subject}: alert sent to {where}\n{alert.message}")


def alerts_resource(topic_arn: str | None) -> AlertsResource:
    return SnsAlerts(topic_arn=topic_arn) if topic_arn else LogAlerts()
