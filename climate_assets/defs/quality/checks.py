"""Asset checks of the Glue-backed assets: declared here, computed inside their Glue job.

The job measures its output once and reports each check through Pipes with the
materialization (``climate_glue.checks``); the names come from there, so the declared specs
and the reported results cannot drift apart. Before launching, the asset reads the recent
rows per day of each of its assets from the instance and passes them, with the reject-rate
threshold, to the job as ``--quality``.
"""

from __future__ import annotations

import dagster as dg
from climate_glue.checks import (
    ACCEPTABLE_CHECKS,
    CHECK_DESCRIPTIONS,
    WARN_CHECKS,
    QualityConfig,
    check_names,
)
from climate_glue.contract import Dataset, Derived

from climate_assets.defs.automation.held_days import HELD_BACK
from climate_assets.resources.quality import QualityThresholds

ROW_HISTORY_RUNS = 10  # materializations (runs) the row-count check compares against
ROWS_PER_DAY = "rows_per_day"  # materialization metadata the jobs report

# Accepting a held judgement check (contract section 5), as run tags (the UI's launchpad or
# `climate-assets materialize --accept ... --reason ...`): ACCEPT_TAG lists "asset:check" or
# "asset:check@YYYY-MM-DD" entries (no day: every day of the run), comma-separated.
ACCEPT_TAG = "climate/accept"
ACCEPT_REASON_TAG = "climate/accept_reason"
ACCEPTED_BY_TAG = "climate/accepted_by"  # set by the CLI: user@host
USER_TAG = "dagster/user"  # set by Dagster+ for a launch from the UI


class AcceptError(ValueError):
    """An acceptance that cannot be taken as written; says which entry and why."""


def parse_accept(text: str) -> dict[str, list[str] | None]:
    """``climate_data:row_count@2024-07-01, health_data:reject_rate`` -> entries and days."""
    accepted: dict[str, list[str] | None] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        target, _, day = entry.partition("@")
        asset, _, check = target.partition(":")
        if not asset or not check:
            raise AcceptError(f"{ACCEPT_TAG}: {entry!r} is not asset:check[@YYYY-MM-DD]")
        if check not in ACCEPTABLE_CHECKS:
            raise AcceptError(
                f"{ACCEPT_TAG}: {check} cannot be accepted: only checks whose threshold is a "
                f"judgement can ({', '.join(sorted(ACCEPTABLE_CHECKS))}); a rule check's rows "
                "are rejects (contract section 5)"
            )
        if day:
            days = accepted.get(target) or []
            accepted[target] = sorted({*days, day})
        else:
            accepted[target] = None
    return accepted


def acceptance(tags: dict[str, str], assets: list[str], host: str) -> dict:
    """The QualityConfig fields for the accepted exceptions of this step's assets."""
    if not tags.get(ACCEPT_TAG):
        return {}
    accepted = parse_accept(tags[ACCEPT_TAG])
    reason = tags.get(ACCEPT_REASON_TAG, "").strip()
    if not reason:
        raise AcceptError(f"{ACCEPT_TAG} needs a reason: set the run tag {ACCEPT_REASON_TAG}")
    mine = {k: v for k, v in accepted.items() if k.partition(":")[0] in assets}
    by = tags.get(USER_TAG) or tags.get(ACCEPTED_BY_TAG) or f"a launch on {host}"
    return {"accepted": mine, "accept_reason": reason, "accepted_by": by} if mine else {}


def check_specs(key: dg.AssetKey, asset: Dataset | Derived) -> list[dg.AssetCheckSpec]:
    """The asset's checks; every one but the schema warning blocks downstream assets."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=key,
            description=CHECK_DESCRIPTIONS[name],
            blocking=name not in WARN_CHECKS,
        )
        for name in check_names(asset)
    ]


def row_history(
    instance: dg.DagsterInstance, key: dg.AssetKey, runs: int = ROW_HISTORY_RUNS
) -> list[float]:
    """Rows per day of the asset's last ``runs`` materializing runs, newest first.

    A range run records one materialization per day with the same metadata, so records are
    taken once per run. A run that held days back (``held_back``) is not history: its rows are
    what the check refused. A run that published an accepted exception is.
    """
    records = instance.fetch_materializations(key, limit=runs * 31).records
    history: list[float] = []
    seen: set[str] = set()
    for record in records:
        if record.run_id in seen:
            continue
        seen.add(record.run_id)
        metadata = record.asset_materialization.metadata
        if HELD_BACK in metadata:
            continue
        value = metadata.get(ROWS_PER_DAY)
        if value is not None:
            history.append(float(value.value))
        if len(history) == runs:
            break
    return history


def quality_arguments(
    context: dg.AssetExecutionContext, keys: list[dg.AssetKey], thresholds: QualityThresholds
) -> dict[str, str]:
    """``--quality`` for the job: the thresholds (CLIMATE_MAX_REJECT_RATE) and the row history
    of each asset it materializes."""
    import socket

    names = [key.path[-1] for key in keys]
    try:
        accepted = acceptance(dict(context.run.tags), names, socket.gethostname())
    except AcceptError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    if accepted:
        context.log.warning(f"accepted for this run: {accepted}")
    config = QualityConfig(
        max_reject_rate=thresholds.max_reject_rate,
        row_history={key.path[-1]: row_history(context.instance, key) for key in keys},
        **accepted,
    )
    return {"--quality": config.to_json()}
