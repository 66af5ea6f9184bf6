"""A workload's results by engine and its floors, read the same way from every results file.

Since the engines (issue 11) a graph workload keeps ``engines[name]`` (``runs``, ``summary``,
``comparison``, ``full_comparison``) and ``floor_runs`` with ``floor_summary`` (the curated
floor); since issue 21 also ``full_floor_runs`` with ``full_floor_summary`` (the full-output
floor), absent from earlier files. Results from before the engines measured the Spark engine
only and kept ``runs``, ``summary`` (with ``floor_*`` fields) and ``comparison`` on the
workload itself. The sensor tick runs no job: ``runs`` and ``summary`` in both.
"""

from __future__ import annotations

GRAPH = "graph"


def engine_parts(workload: dict) -> dict[str, dict]:
    """engine name -> {"runs", "summary"[, "comparison"]} of a graph workload; {} for the
    sensor tick."""
    if "engines" in workload:
        return workload["engines"]
    if workload.get("workload", {}).get("kind", GRAPH) != GRAPH or "runs" not in workload:
        return {}
    part = {"runs": workload["runs"], "summary": workload.get("summary") or {}}
    if "comparison" in workload:
        part["comparison"] = workload["comparison"]
    return {"spark": part}


def floor_summary(workload: dict) -> dict | None:
    """The floor's medians (``wall_seconds``, ``seconds``, ``peak_rss_bytes``, ``cpu_seconds``)."""
    if "floor_summary" in workload:
        return workload["floor_summary"]
    old = workload.get("summary") or {}
    if "floor_wall_seconds" not in old:
        return None
    return {
        "wall_seconds": old.get("floor_wall_seconds"),
        "seconds": old.get("floor_seconds"),
        "peak_rss_bytes": old.get("floor_peak_rss_bytes"),
        "peak_uss_bytes": None,
        "cpu_seconds": old.get("floor_cpu_seconds"),
        "failed_runs": 0,
    }


def full_floor_summary(workload: dict) -> dict | None:
    """The full-output floor's medians (issue 21); None in results from before it."""
    return workload.get("full_floor_summary")


def median(found: dict | None, field: str, stat: str = "median"):
    """``summary[field][stat]`` or None."""
    return ((found or {}).get(field) or {}).get(stat)
