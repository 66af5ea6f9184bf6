"""``climate-assets materialize``: one run of the graph (or a selection) for a range of days.

With ``climate-assets dev`` running, the run is launched through the webserver's GraphQL API
(``launchRun``, the mutation the UI's Materialize button sends): the webserver builds the run
from its loaded code location and submits it to the instance's run coordinator, so the run is
queued, picked up by the daemon and shows in the UI exactly like a UI launch. That is more
reliable than building the run here: a run the daemon can launch needs the code location's
origin and snapshots as the webserver has them, which only the workspace machinery (private
API) produces. Without a reachable webserver and a live daemon, the run executes in this
process as ``demo`` does, echoing each step.

A range is one run tagged with the range (``dagster/asset_partition_range_start|end``); the
assets have single-run backfill policies, so each asset's Glue job runs once for the range.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date

import dagster as dg

from climate_assets.constants import WHOLE_GRAPH_JOB
from climate_assets.partitions import daily_partitions, range_tags
from climate_assets.settings import Settings

LOCATION = "climate_assets"  # the code location's name in workspace.yaml
REPOSITORY = "__repository__"
DEFAULT_URL = "http://127.0.0.1:3000"
DAEMON_ALIVE_SECONDS = 120
DONE = {"SUCCESS", "FAILURE", "CANCELED"}

LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}
"""
RUN_STATUS = """
query($id: ID!) { runOrError(runId: $id) { ... on Run { status
  stepStats { stepKey status } } } }
"""


class LaunchError(RuntimeError):
    pass


class NoDaysError(ValueError):
    """The command asks for no day that can be materialized."""


def graphql(url: str, query: str, variables: dict, timeout: float = 30) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise LaunchError(f"GraphQL error: {payload['errors']}")
    return payload["data"]


def webserver_up(url: str) -> bool:
    try:
        graphql(url, "{ version }", {}, timeout=5)
        return True
    except (OSError, LaunchError, ValueError):
        return False


def daemon_alive(instance: dg.DagsterInstance, now: float | None = None) -> bool:
    """A daemon heartbeat within the last two minutes (it beats every few seconds)."""
    now = time.time() if now is None else now
    beats = instance.get_daemon_heartbeats()
    return any(now - beat.timestamp < DAEMON_ALIVE_SECONDS for beat in beats.values())


def launch_queued(
    url: str, selection: list[dg.AssetKey] | None, tags: dict[str, str]
) -> tuple[str, str]:
    """Launch through the webserver (queued for the daemon, as from the UI): run id, status."""
    selector = {
        "repositoryLocationName": LOCATION,
        "repositoryName": REPOSITORY,
        "jobName": WHOLE_GRAPH_JOB,
    }
    if selection:
        selector["assetSelection"] = [{"path": list(key.path)} for key in selection]
    params = {
        "selector": selector,
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    result = graphql(url, LAUNCH_RUN, {"params": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        detail = result.get("message") or result.get("errors")
        raise LaunchError(f"launch refused ({result['__typename']}): {detail}")
    return result["run"]["runId"], result["run"]["status"]


def follow(
    url: str, run_id: str, echo: Callable[[str], None], poll: float = 2.0, timeout: float = 3600
) -> str:
    """Echo the run's status and step changes until it ends; its final status."""
    seen: dict[str, str] = {}
    last_status = None
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while time.monotonic() < deadline:
        run = graphql(url, RUN_STATUS, {"id": run_id})["runOrError"]
        elapsed = time.monotonic() - started
        if run["status"] != last_status:
            last_status = run["status"]
            echo(f"[{elapsed:6.1f}s] run {run_id[:8]} {last_status.lower()}")
        for step in run.get("stepStats") or []:
            if seen.get(step["stepKey"]) != step["status"]:
                seen[step["stepKey"]] = step["status"]
                echo(f"[{elapsed:6.1f}s]   {step['status'].lower():<11} {step['stepKey']}")
        if last_status in DONE:
            return last_status
        time.sleep(poll)
    return last_status or "UNKNOWN"


def accept_tags(accept: str | None, reason: str | None) -> dict[str, str]:
    """Run tags that accept held judgement checks (``climate_assets.defs.quality.checks``), with the
    reason and who launched it (user@host)."""
    import getpass
    import socket

    from climate_assets.defs.quality.checks import (
        ACCEPT_REASON_TAG,
        ACCEPT_TAG,
        ACCEPTED_BY_TAG,
        parse_accept,
    )

    if not accept:
        return {}
    parse_accept(accept)  # refuse a rule check or a malformed entry before launching
    if not (reason or "").strip():
        raise ValueError("--accept needs --reason: why the held days are right")
    return {
        ACCEPT_TAG: accept,
        ACCEPT_REASON_TAG: reason.strip(),
        ACCEPTED_BY_TAG: f"{getpass.getuser()}@{socket.gethostname()}",
    }


def parse_selection(text: str | None) -> list[dg.AssetKey] | None:
    if not text:
        return None
    return [dg.AssetKey.from_user_string(part.strip()) for part in text.split(",") if part.strip()]


def derive_around_held_days(
    settings: Settings, instance: dg.DagsterInstance, run_id: str, echo: Callable[[str], None]
) -> None:
    """What the daemon's held-days sensor does (``climate_assets.defs.automation.held_days``), in this process:
    a range run held back a day, so the derived metrics of its other days run now."""
    from climate_assets.constants import DERIVED_ASSETS
    from climate_assets.defs.automation.held_days import held_back_in_run
    from climate_cli.demo import run_whole_graph

    found = held_back_in_run(instance, instance.get_run_by_id(run_id))
    if found is None:
        return
    echo(found.describe())
    for first, last in found.stretches:
        around = run_whole_graph(
            settings, instance, first, last, echo=echo, asset_selection=list(DERIVED_ASSETS)
        )
        echo(
            f"  derived metrics for {first} .. {last}: run {around.run_id} "
            f"{'succeeded' if around.success else 'FAILED'}"
        )


def queued_exit_code(
    instance: dg.DagsterInstance, run_id: str, final: str, echo: Callable[[str], None]
) -> int:
    """Each failed step's cause, and the exit code: 0, 1 data held back, 3 could not run."""
    from climate_assets.steps.failures import step_failure_cause, step_failure_held
    from climate_cli.errors import EXIT_COULD_NOT_RUN, EXIT_HELD_BACK, EXIT_OK

    if final == "SUCCESS":
        return EXIT_OK
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    held = bool(records)
    for record in records:
        data = record.event_log_entry.dagster_event.step_failure_data
        echo(f"  {record.event_log_entry.step_key}: {step_failure_cause(data)}")
        held &= step_failure_held(data)
    return EXIT_HELD_BACK if held else EXIT_COULD_NOT_RUN


def requested_days(args: argparse.Namespace, settings: Settings) -> tuple[date, date]:
    """``--from``..``--to`` (``--to`` defaults to ``--from``), else the newest partition."""
    if args.date_from:
        start = date.fromisoformat(args.date_from)
        end = date.fromisoformat(args.date_to) if args.date_to else start
    else:
        newest = daily_partitions(settings.partitions_start).get_last_partition_key()
        if newest is None:
            raise NoDaysError(
                f"no day to materialize yet: partitions start {settings.partitions_start}"
            )
        start = end = date.fromisoformat(newest)
    if end < start:
        raise NoDaysError("--to is before --from")
    return start, end


def materialize_command(args: argparse.Namespace, echo: Callable[[str], None]) -> int:
    """The command; ``echo`` prints a line (the CLI passes ``print``)."""
    import os

    from climate_assets.instance import instance_environment
    from climate_cli.demo import describe_failed_check, exit_code, run_whole_graph
    from climate_cli.errors import EXIT_COULD_NOT_RUN

    settings = Settings.from_env()
    selection = parse_selection(args.select)
    try:
        start, end = requested_days(args, settings)
    except NoDaysError as exc:
        echo(str(exc))
        return 2
    tags = {**range_tags(start, end), **accept_tags(args.accept, args.reason)}
    what = ", ".join(k.to_user_string() for k in selection) if selection else "the whole graph"
    os.environ.update(instance_environment())
    with dg.DagsterInstance.get() as instance:
        url = args.url or DEFAULT_URL
        if not args.in_process and daemon_alive(instance) and webserver_up(url):
            try:
                run_id, launched = launch_queued(url, selection, tags)
            except LaunchError as exc:
                echo(f"materialize failed: {exc}")
                return EXIT_COULD_NOT_RUN
            echo(
                f"Queued run {run_id} of {what} for {start} .. {end} (daemon at {url}): "
                f"{launched.lower()}"
            )
            echo(f"  {url}/runs/{run_id}")
            if args.no_wait:
                return 0
            final = follow(url, run_id, echo)
            return queued_exit_code(instance, run_id, final, echo)
        echo(f"Materializing {what} for {start} .. {end} in this process (no daemon running)")
        outcome = run_whole_graph(
            settings,
            instance,
            start,
            end,
            echo=echo,
            asset_selection=selection,
            extra_tags=accept_tags(args.accept, args.reason),
        )
        if not outcome.success:
            derive_around_held_days(settings, instance, outcome.run_id, echo)
    echo(
        f"Run {outcome.run_id} {'succeeded' if outcome.success else 'FAILED'}"
        f" in {outcome.seconds:.1f}s"
    )
    for error in outcome.errors:
        echo(f"  {error}")
    for failed in outcome.failed_checks:
        for line in describe_failed_check(failed, settings):
            echo(line)
    return exit_code(outcome)
