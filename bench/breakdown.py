"""Per-step time breakdown of a pipeline run, from its event log and materialization metadata.

For a step that runs a Glue job: ``seconds`` (STEP_START to STEP_SUCCESS in the event log),
``job`` (the Glue run's own time, ``glue_execution_seconds``; on the local engine it includes
starting the Spark session when the step is the first of the run, shown as ``spark_start``),
the job's stages from its ``seconds_*`` metadata grouped as Spark work, PostgreSQL load,
exports and lake publishing, and ``orchestration`` = seconds - job: what Dagster, Pipes and
the asset code add around the job. A step with no Glue job (the Athena tables) is all
orchestration plus its own DDL.

A job runs its outputs (Parquet, exports, PostgreSQL load, check aggregates) side by side in
one ``outputs`` stage; each part reports its own ``busy_seconds_*``, which overlap. The stage's
wall time is shared out over the parts in proportion to their own seconds, so the groups still
add up to the job's time and the largest part still shows.
"""

from __future__ import annotations

import json
import statistics

STAGE_GROUPS = {
    "spark": ("read", "validate", "transform", "write_lake"),
    "checks": ("checks",),
    "postgres": ("load_postgres",),
    "exports": ("write_exports",),
    "publish": ("publish_lake",),
}


def compact(materializations: list[dict]) -> list[dict]:
    """One entry per asset and metadata, with how many partitions reported it (``count``) and
    the first and last of them: a range run reports the same metadata for each of its days, and
    a 365-day backfill would otherwise store every copy (megabytes of identical JSON)."""
    groups: dict[tuple[str, str], dict] = {}
    for m in materializations:
        key = (m["asset"], json.dumps(m["metadata"], sort_keys=True, default=str))
        if key not in groups:
            groups[key] = {**m, "count": 0, "last_partition": None}
        group = groups[key]
        group["count"] += m.get("count", 1)
        group["last_partition"] = m.get("last_partition") or m.get("partition")
    return list(groups.values())


CONCURRENT_STAGE = "outputs"


def job_stages(meta: dict) -> dict[str, float]:
    """A job's seconds per stage from its metadata; the concurrent stage's wall time shared out
    over its parts by their own (overlapping) seconds."""
    stages = {k.removeprefix("seconds_"): v for k, v in meta.items() if k.startswith("seconds_")}
    busy = {
        k.removeprefix("busy_seconds_"): v for k, v in meta.items() if k.startswith("busy_seconds_")
    }
    concurrent = stages.pop(CONCURRENT_STAGE, None)
    if concurrent is None:
        return stages
    total = sum(busy.values())
    if not total:
        return {**stages, "write_lake": stages.get("write_lake", 0.0) + concurrent}
    for name, seconds in busy.items():
        stages[name] = stages.get(name, 0.0) + concurrent * seconds / total
    return stages


def steps(run: dict) -> list[dict]:
    rows = []
    ordered = sorted(run.get("steps", {}).items(), key=lambda kv: kv[1].get("offset", 0.0))
    for key, step in ordered:
        materializations = step.get("materializations", [])
        meta = materializations[0]["metadata"] if materializations else {}
        stages = job_stages(meta)
        job = meta.get("glue_execution_seconds") if step.get("glue_job_runs") else None
        row = {
            "step": key,
            "status": step.get("status"),
            "seconds": step.get("seconds"),
            "glue_job_runs": step.get("glue_job_runs", 0),
            "materializations": sum(m.get("count", 1) for m in materializations),
            "assets": sorted({m["asset"] for m in materializations}),
            "partitioned": any(m.get("partition") for m in materializations),
            "partition_ranges": sorted(
                {
                    (m["metadata"].get("partition_start"), m["metadata"].get("partition_end"))
                    for m in materializations
                    if m["metadata"].get("partition_start")
                }
            ),
            "job": job,
            "spark_start": meta.get("spark_session_start_seconds"),
        }
        for group, names in STAGE_GROUPS.items():
            row[group] = round(sum(stages.get(n, 0.0) for n in names), 3) if stages else None
        known = sum(stages.values()) + (row["spark_start"] or 0.0)
        row["job_other"] = round(job - known, 3) if job is not None else None
        seconds = row["seconds"]
        row["orchestration"] = round(seconds - (job or 0.0), 3) if seconds is not None else None
        # A multi-asset step (the derived metrics, the Athena tables) shares its overhead.
        count = len(row["assets"]) or 1
        row["orchestration_per_asset"] = (
            round(row["orchestration"] / count, 3) if row["orchestration"] is not None else None
        )
        rows.append(row)
    return rows


def median_steps(runs: list[dict]) -> list[dict]:
    """Each numeric field of each step as the median over the successful runs."""
    per_run = [steps(r) for r in runs if r.get("exit_code") == 0 and r.get("steps")]
    if not per_run:
        return []
    merged = []
    for row in per_run[0]:
        same = [next((s for s in rows if s["step"] == row["step"]), None) for rows in per_run]
        same = [s for s in same if s is not None]
        out = dict(row)
        for field, value in row.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                values = [s[field] for s in same if isinstance(s.get(field), int | float)]
                out[field] = round(statistics.median(values), 3) if values else None
        merged.append(out)
    return merged
