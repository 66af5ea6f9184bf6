"""The Glue driver's output (CloudWatch Logs), streamed to stdout while the job runs.

Glue 5.0 writes the driver's stdout and stderr to ``<LogGroupName>/output``, one stream per run
(named by the run id). Pipes protocol lines in it are skipped: they arrive through the message
reader.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import IO, Any

import dagster as dg
from dagster_pipes import PIPES_PROTOCOL_VERSION_FIELD

DEFAULT_GLUE_LOG_GROUP = "/aws-glue/jobs"


def driver_log_group(job_run: dict[str, Any]) -> str:
    """The log group of a run's driver output."""
    return f"{job_run.get('LogGroupName') or DEFAULT_GLUE_LOG_GROUP}/output"


def is_pipes_message(line: str) -> bool:
    try:
        message = json.loads(line)
    except ValueError:
        return False
    return isinstance(message, dict) and PIPES_PROTOCOL_VERSION_FIELD in message


class GlueDriverLogReader(dg.PipesLogReader):
    """Copies a CloudWatch Logs stream to ``target_stream`` until the Pipes session closes.

    dagster-aws's ``PipesCloudWatchLogReader`` tails through a generator that only yields when
    new events arrive, so once the stream goes quiet it polls without pause and never notices
    that the session closed. This one waits ``interval`` seconds between empty polls and stops
    after the first empty poll once the session has closed. Throttling is retried by the
    client (standard retry mode, ``climate_glue.aws``).
    """

    def __init__(
        self,
        *,
        client,
        log_group: str,
        log_stream: str,
        target_stream: IO[str] | None = None,
        interval: float = 5,
        debug_info: str | None = None,
    ):
        self.client = client
        self.log_group = log_group
        self.log_stream = log_stream
        self.target_stream = target_stream or sys.stdout
        self.interval = interval
        self.thread: threading.Thread | None = None
        self._debug_info = debug_info

    @property
    def debug_info(self) -> str | None:
        return self._debug_info

    def target_is_readable(self, params) -> bool:
        try:
            streams = self.client.describe_log_streams(
                logGroupName=self.log_group, logStreamNamePrefix=self.log_stream
            )
        except self.client.exceptions.ResourceNotFoundException:
            return False
        return bool(streams.get("logStreams"))

    def start(self, params, is_session_closed: threading.Event) -> None:
        self.thread = threading.Thread(target=self._copy, args=(is_session_closed,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def is_running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _copy(self, is_session_closed: threading.Event) -> None:
        request = {
            "logGroupName": self.log_group,
            "logStreamName": self.log_stream,
            "startFromHead": True,
        }
        while True:
            closed = is_session_closed.is_set()
            response = self.client.get_log_events(**request)
            events = response.get("events", [])
            for event in events:
                for line in event.get("message", "").splitlines():
                    if line and not is_pipes_message(line):
                        self.target_stream.write(line + "\n")
            request["nextToken"] = response["nextForwardToken"]
            if not events:
                if closed:
                    return
                is_session_closed.wait(self.interval)
