"""The issue's speed targets, judged on a results dict (2 cores, 24 GiB)."""

from __future__ import annotations

from datetime import date, timedelta

from .breakdown import median_steps

GIB = 2**30
SEED_MAX_SECONDS = 60.0
FLOOR_MAX_RATIO = 3.0
PEAK_MAX_BYTES = 3 * GIB
OVERHEAD_MAX_SECONDS = 1.0
SENSOR_MAX_SECONDS = 2.0


def _target(name: str, workload: str, limit: str, measured, met: bool | None, note: str) -> dict:
    status = "not measured" if met is None else ("met" if met else "MISSED")
    return {
        "target": name,
        "workload": workload,
        "limit": limit,
        "measured": measured,
        "status": status,
        "note": note,
    }


def evaluate(results: dict) -> list[dict]:
    found = results["workloads"]
    out = []

    seed = found.get("seed")
    if seed:
        wall = (seed["summary"]["wall_seconds"] or {}).get("median")
        out.append(
            _target(
                "seed batch end to end",
                "seed",
                f"<= {SEED_MAX_SECONDS:.0f} s wall",
                wall,
                None if wall is None else wall <= SEED_MAX_SECONDS,
                "" if wall is None else f"{wall - SEED_MAX_SECONDS:+.1f} s against the limit",
            )
        )

    big = found.get("100mb")
    if big:
        summary = big["summary"]
        wall = (summary["wall_seconds"] or {}).get("median")
        floor = (summary.get("floor_wall_seconds") or {}).get("median")
        ratio = round(wall / floor, 2) if wall and floor else None
        out.append(
            _target(
                "100 MB/day vs DuckDB floor",
                "100mb",
                f"<= {FLOOR_MAX_RATIO:.0f}x floor",
                ratio,
                None if ratio is None else ratio <= FLOOR_MAX_RATIO,
                f"pipeline {wall} s, floor {floor} s (process wall, medians); CPU seconds"
                f" {(summary.get('cpu_seconds') or {}).get('median')} vs"
                f" {(summary.get('floor_cpu_seconds') or {}).get('median')}",
            )
        )
        peak = (summary["peak_rss_bytes"] or {}).get("max")
        out.append(
            _target(
                "100 MB/day peak memory",
                "100mb",
                "<= 3 GiB RSS (whole process tree)",
                None if peak is None else round(peak / GIB, 2),
                None if peak is None else peak <= PEAK_MAX_BYTES,
                "GiB, sum of RSS over Python, JVM, Python workers and PostgreSQL; highest run",
            )
        )

    tiny = found.get("overhead")
    if tiny:
        rows = median_steps(tiny["runs"])
        worst = max(rows, key=lambda r: r["orchestration_per_asset"] or 0.0, default=None)
        value = worst["orchestration_per_asset"] if worst else None
        out.append(
            _target(
                "orchestration overhead per asset",
                "overhead",
                f"<= {OVERHEAD_MAX_SECONDS:.0f} s beyond its job",
                value,
                None if value is None else value <= OVERHEAD_MAX_SECONDS,
                f"worst step {worst['step']} ({len(worst['assets'])} asset(s),"
                f" {worst['orchestration']} s for the step)"
                if worst
                else "",
            )
        )

    backfill = found.get("backfill")
    if backfill:
        workload = backfill["workload"]
        first = date.fromisoformat(workload["start"])
        whole = (first.isoformat(), (first + timedelta(days=workload["days"] - 1)).isoformat())
        rows = median_steps(backfill["runs"][:1])
        glue = [r for r in rows if r["glue_job_runs"]]
        ok = bool(glue) and all(
            r["glue_job_runs"] == 1 and (not r["partitioned"] or r["partition_ranges"] == [whole])
            for r in glue
        )
        out.append(
            _target(
                "backfill: one Spark job per asset for the whole range",
                "backfill",
                "1 Glue job run per step, range = whole backfill",
                {r["step"]: r["glue_job_runs"] for r in glue},
                ok if glue else None,
                f"range {whole[0]} .. {whole[1]}",
            )
        )

    sensor = found.get("sensor")
    if sensor:
        runs = sensor["runs"]
        measured = [r["tick_seconds"] for r in runs if r.get("status") == "measured"]
        status = runs[0].get("status", "failed") if runs else "not run"
        value = sorted(measured)[len(measured) // 2] if measured else None
        out.append(
            _target(
                "sensor tick over 10,000 keys",
                "sensor",
                f"< {SENSOR_MAX_SECONDS:.0f} s",
                value,
                None if value is None else value < SENSOR_MAX_SECONDS,
                "" if measured else status,
            )
        )
    return out
