"""``bench/RESULTS.md`` from a results dict: machine, versions, medians, targets, breakdown."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from .breakdown import median_steps
from .shape import engine_parts, floor_summary, full_floor_summary, median

MIB = 2**20


def _s(value) -> str:
    return "–" if value is None else f"{value:,.2f}" if isinstance(value, float) else str(value)


def _size(count: int) -> str:
    return f"{count / MIB:,.1f} MiB" if count >= MIB else f"{count / 1024:,.1f} KiB"


def _spread(found: dict | None, scale: float = 1.0, unit: str = "s") -> str:
    if not found:
        return "–"
    median, low, high = (found[k] / scale for k in ("median", "min", "max"))
    return f"{median:,.1f} {unit} ({low:,.1f}–{high:,.1f}, n={found['n']})"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_s(c) for c in row) + " |" for row in rows]
    return lines


def _history(files: list[Path]) -> list[str]:
    rows = []
    for path in files[-15:]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        status = {t["target"]: t["status"] for t in data.get("targets", [])}
        met = sum(1 for s in status.values() if s == "met")
        walls = {}
        for name, w in data.get("workloads", {}).items():
            parts = engine_parts(w) or {"": w}
            for engine, part in parts.items():
                walls[f"{name} {engine}".strip()] = (part["summary"].get("wall_seconds") or {}).get(
                    "median"
                )
        rows.append(
            [
                path.name,
                "yes" if data.get("quick") else "no",
                data.get("repeat"),
                ", ".join(f"{k} {v:.1f}s" for k, v in walls.items() if v is not None),
                f"{met}/{len(status)}",
                " ".join(str(x) for x in data.get("load_average_start", [])),
                # Figures from different host CPUs are not comparable (Spark moved ~40% with one).
                (data.get("machine") or {}).get("cpu_model", ""),
            ]
        )
    header = ["results file", "quick", "repeat", "median wall", "targets met", "load", "host CPU"]
    return _table(header, rows)


def render(results: dict, raw_name: str, history: list[Path]) -> str:
    m, v = results["machine"], results["versions"]
    merged = results.get("merged", [])
    later = {name for x in merged for name in x["workloads"]}
    own = [name for name in results["workloads"] if name not in later]
    lines = [
        "# Benchmark results",
        "",
        "Written by `uv run python -m bench` (see docs/benchmarks.md). Raw numbers:"
        f" `bench/results/{raw_name}`"
        + "".join(f" and `bench/results/{x['file']}`" for x in merged)
        + ".",
        "",
        f"- date: {results['started']} to {results['finished']} (UTC)"
        + (
            " — **quick sizes** (a check of the runner, not the targets' workloads)"
            if results["quick"]
            else ""
        ),
        *(
            f"- merged in: {', '.join(x['workloads'])} from `bench/results/{x['file']}`, run"
            f" {x['started']} to {x['finished']} (UTC), {x['repeat']} time(s) each; load average"
            f" at start {x['load_average_start']}, at end {x['load_average_end']}; what other"
            f" work took from the cores during its runs: {_other_share(results, x['workloads'])}"
            for x in merged
        ),
        f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu_model']}; {m['os']}",
        f"- load average (1, 5, 15 min) at start {results['load_average_start']},"
        f" at end {results['load_average_end']} (the benchmark's own runs raise it); what other"
        " work took from the cores during the runs: "
        + (
            _other_share(results, own)
            if own
            else "counted with the runs merged in above (every workload here ran again there)"
        ),
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- each workload ran {results['repeat']} time(s), each in a fresh process on a fresh"
        " state folder (its own lake, embedded PostgreSQL and Dagster instance); times are the"
        " median with (min–max)",
        "- engines: each graph workload ran on "
        + ", ".join(f"**{e}**" for e in results.get("engines", ["spark"]))
        + " (the child process's `CLIMATE_ENGINE`; results from before the engines measured"
        " Spark only), and for `seed`, `100mb` and `backfill` the two floors (curated and full-output) as many times; the sensor tick and status run no job"
        " measured",
        "- memory: peak over the run of the sum over the whole process tree (Python, which runs"
        " the DuckDB engine in-process; with Spark also its JVM and Python workers; the embedded"
        " PostgreSQL) of **RSS** (shared pages counted"
        " in every process: an upper bound) and of **USS** (pages only that process holds: a lower"
        " bound), sampled with psutil (RSS every 0.25 s, USS every 1 s: reading a JVM's page"
        " map is costly; the sampler's own CPU is in the results JSON as"
        " `sampler_cpu_seconds`)",
        "",
        "## Targets",
        "",
    ]
    # A results file whose workloads all ran again later (another engine, say) has no group of
    # its own: its runs are in the workloads of the later files, whose shares count them.
    groups = [(own, "" if not merged else f" of {', '.join(own)}")] if own else []
    groups += [(x["workloads"], f" of {', '.join(x['workloads'])} (`{x['file']}`)") for x in merged]
    for names, which in groups:
        busy = _busiest_other_share(results, names)
        if busy is None or busy <= NOISY_SHARE:
            continue
        lines += [
            f"**Other work took up to {100 * busy:.0f}% of the {m['cores']} cores during a"
            f" run{which}**: it shared the CPU, so wall times are inflated and a MISSED on a"
            " time target says little; memory, CPU seconds, the breakdown's shares and the"
            " backfill and floor checks still hold. Rerun on a quiet machine to judge the time"
            " targets.",
            "",
        ]
    lines += _table(
        ["target", "engine", "limit", "measured", "status", "note"],
        [
            [
                t["target"],
                t.get("engine", "spark"),
                t["limit"],
                json.dumps(t["measured"]) if isinstance(t["measured"], dict) else t["measured"],
                t["status"],
                t["note"],
            ]
            for t in results["targets"]
        ],
    )
    lines += ["", "## Workloads", "", *_workloads_table(results)]
    for name, w in results["workloads"].items():
        lines += _workload_detail(name, w)
    analysis = Path(__file__).with_name("ANALYSIS.md")
    if analysis.exists():  # hand-written reading of the numbers, kept across runs
        lines += ["", analysis.read_text().strip()]
    lines += ["", "## History (bench/results/)", "", *_history(history)]
    return "\n".join(lines) + "\n"


def _ratio(wall: float | None, floor_wall: float | None) -> float | None:
    return round(wall / floor_wall, 2) if wall and floor_wall else None


def _row(name: str, what: str, runs_on: str, s: dict, floors: tuple) -> list:
    wall = (s.get("wall_seconds") or {}).get("median")
    return [
        name,
        what,
        runs_on,
        _spread(s.get("wall_seconds")),
        _spread(s.get("run_seconds")),
        _spread(s.get("peak_rss_bytes"), MIB, "MiB"),
        _spread(s.get("peak_uss_bytes"), MIB, "MiB"),
        _spread(s.get("cpu_seconds")),
        *(_ratio(wall, floor_wall) for floor_wall in floors),
        s.get("failed_runs"),
    ]


def _workloads_table(results: dict) -> list[str]:
    """One row per workload and engine, the floors' rows first: side by side, each row's
    process wall over each floor's in a column of its own."""
    rows = []
    for name, w in results["workloads"].items():
        landing = w["landing_zone"]
        what = (
            f"{w['workload']['description']}; landing zone"
            f" {_size(sum(landing['raw_bytes'].values()))}"
            f" ({_size(landing['daily_bytes_per_day'])}/day)"
        )
        curated, full = floor_summary(w), full_floor_summary(w)
        floors = tuple(median(f, "wall_seconds") for f in (curated, full))
        shown = [
            (label, f)
            for label, f in (("curated floor", curated), ("full-output floor", full))
            if f
        ]
        parts = engine_parts(w)
        shown += [(f"{engine} engine", part["summary"]) for engine, part in parts.items()]
        if not parts:
            shown.append(("(no engine)", w["summary"]))
        for i, (runs_on, summary) in enumerate(shown):
            rows.append(
                _row(name if i == 0 else "", what if i == 0 else "", runs_on, summary, floors)
            )
    lines = _table(
        [
            "workload", "what", "runs on", "process wall", "Dagster run", "peak RSS",
            "peak USS", "CPU", "x curated floor", "x full floor", "failed",
        ],
        rows,
    )  # fmt: skip
    return [
        *lines,
        "",
        "*process wall*: from starting the process to its exit (imports, PostgreSQL, the Spark"
        " JVM when the engine is Spark, the run, shutdown); *Dagster run*: `run_whole_graph`"
        " alone; *x curated floor*, *x full floor*: process wall over that floor's process wall;"
        " *CPU*: user + system seconds of the whole process tree (steadier than wall time when"
        " other work shares the machine). Both floors are plain DuckDB from the same landing"
        " zone: the *curated floor* (`bench/floor_duckdb.py`) writes only the curated Parquet;"
        " the *full-output floor* (`bench/floor_full.py`) writes every output the pipeline"
        " writes (processed and curated Parquet, CSV and JSON exports, the seven PostgreSQL"
        " tables COPYed on two streams into its own embedded PostgreSQL, started in its"
        " process), without orchestration, atomic publishing, checks or rejects. Results from"
        " before issue 21 have no full-output floor.",
    ]


NOISY_SHARE = 0.1  # other processes' CPU over the run's capacity (wall x cores)


def _other_shares(
    results: dict, field: str = "other_cpu_seconds", names: list[str] | None = None
) -> list[float]:
    """Per run: CPU seconds of the processes outside the benchmarked tree over wall x cores
    (of the workloads ``names``, default all)."""
    cores = results["machine"]["cores"] or 1
    return [
        run[field] / (run["wall_seconds"] * cores)
        for name, w in results["workloads"].items()
        if names is None or name in names
        for run in [
            *w.get("runs", []),
            *w.get("floor_runs", []),
            *w.get("full_floor_runs", []),
            *(r for part in w.get("engines", {}).values() for r in part["runs"]),
        ]
        if run.get(field) is not None and run.get("wall_seconds")
    ]


# Results of 2026-11-25 19:40 recorded the machine's busy CPU outside the sampled tree instead:
# an upper bound of other work that also counts the run's own short-lived children (Hadoop's
# chmod calls) and the runner's sampling. Their median is used; later results count other
# processes one by one.
UPPER_BOUND_FIELD = "machine_other_cpu_seconds"


def _busiest_other_share(results: dict, names: list[str] | None = None) -> float | None:
    shares = _other_shares(results, names=names)
    if shares:
        return max(shares)
    bounds = _other_shares(results, UPPER_BOUND_FIELD, names)
    if bounds:
        return statistics.median(bounds)
    if "load_average_start" in results:  # results from before other work was measured
        load = max(results["load_average_start"][0], results["load_average_end"][0])
        return load / (results["machine"]["cores"] or 1)
    return None


def _other_share(results: dict, names: list[str] | None = None) -> str:
    shares = _other_shares(results, names=names)
    if shares:
        return (
            f"{100 * statistics.median(shares):.1f}% of the cores (median over runs), at most"
            f" {100 * max(shares):.1f}% (CPU seconds of the processes outside the benchmarked"
            " tree and the runner, over wall x cores); above 10% the wall times are noisy"
        )
    bounds = _other_shares(results, UPPER_BOUND_FIELD, names)
    if bounds:
        return (
            f"at most {100 * statistics.median(bounds):.1f}% of the cores (median over runs;"
            f" highest run {100 * max(bounds):.1f}%), an upper bound: the machine's busy CPU"
            " outside the sampled tree, which also counts the run's own short-lived children"
            " (Hadoop's chmod calls) and the runner's sampling; above 10% the wall times are noisy"
        )
    return "not recorded"


CATEGORIES = {
    "spark": "engine work in the jobs (read, validate, transform, Parquet staging)",
    "checks": "quality check aggregates",
    "postgres": "PostgreSQL load",
    "exports": "CSV/JSON exports",
    "publish": "publishing into the lake",
    "spark_start": "engine session start",
    "job_other": "job time outside its stages",
    "orchestration": "orchestration (Dagster, Pipes, asset code; the Athena step)",
}


def _where_time_goes(w: dict, rows: list[dict]) -> str:  # w: one engine's runs
    """What limits the run: its time by category, largest first (medians of the steps)."""
    totals = {c: sum(r.get(c) or 0.0 for r in rows) for c in CATEGORIES}
    ok = [r for r in w["runs"] if r["exit_code"] == 0]
    if ok:
        wall = statistics.median(r["wall_seconds"] for r in ok)
        in_steps = sum(r["seconds"] or 0.0 for r in rows)
        totals["outside"] = max(0.0, wall - in_steps)
    labels = {
        **CATEGORIES,
        "outside": "outside the steps (imports, PostgreSQL and Dagster"
        " storage start, run start and end, process exit)",
    }
    whole = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    parts = [f"{labels[k]} {v:,.1f} s ({100 * v / whole:.0f}%)" for k, v in ranked if v >= 0.05]
    return "Where the time goes, largest first: " + "; ".join(parts) + "."


def _workload_detail(name: str, w: dict) -> list[str]:
    lines = ["", f"## {name}: {w['workload']['description']}"]
    if w["workload"]["kind"] == "sensor":
        return [*lines, "", *_engine_detail(w)]
    if w["workload"]["kind"] == "status":
        return [*lines, "", *_status_detail(w)]
    if w["workload"]["kind"] == "ui-backfill":
        return [*lines, "", *_ui_backfill_detail(w)]
    if w["workload"]["kind"] == "drop":
        return [*lines, "", *_drop_detail(w)]
    for engine, part in engine_parts(w).items():
        lines += ["", f"### {name} on the {engine} engine", ""]
        lines += _engine_detail({**part, "workload": w["workload"]})
    floors = [r for r in w.get("floor_runs", []) if r["exit_code"] == 0]
    if floors:
        f = floors[0]
        lines += [
            "",
            f"### {name}: the curated floor",
            "",
            f"First run: {f.get('seconds')} s inside DuckDB {f.get('stages')},"
            f" valid rows {f.get('valid_rows')}.",
        ]
    full = [r for r in w.get("full_floor_runs", []) if r["exit_code"] == 0]
    if full:
        f = full[0]
        lines += [
            "",
            f"### {name}: the full-output floor",
            "",
            f"First run: {f.get('seconds')} s from its start to the last COPY, by stage"
            f" {f.get('stages')} (CPU seconds of its Python process: {f.get('stages_cpu')});"
            " PostgreSQL on a thread of its own, each table as soon as DuckDB has it, side by"
            " side with the rest: waiting for the server (started on a thread from the first"
            " moment) and loading (binary COPY, then the key)"
            f" {f.get('postgres_stages')}; rows COPYed {f.get('postgres_rows')}.",
        ]
    return lines


def _drop_detail(w: dict) -> list[str]:
    """The first successful run's runs: what each was and when it was created, started and
    ended, in seconds after the last file's rename."""
    ok = [r for r in w["runs"] if r["exit_code"] == 0]
    if not ok:
        run = w["runs"][0] if w["runs"] else {}
        return [f"Not measured: {run.get('log_tail', 'no run')}"]
    first = ok[0]
    reached = ", ".join(f"{t} {s} s" for t, s in first["reached_seconds"].items())
    rows = [
        [", ".join(r["assets"]), r["by"], r["status"], r["created"], r["started"], r["ended"]]
        for r in first["runs"]
    ]
    return [
        f"First run: the day {first['day']} reached {reached} after the last rename.",
        "",
        *_table(["run of", "made by", "status", "created", "started", "ended"], rows),
        "",
        "Seconds after the last file's rename; *started* is the run worker's RUN_START.",
    ]


def _status_detail(w: dict) -> list[str]:
    """How the instance was made, and the status command's parts (medians over the runs)."""
    ok = [r for r in w["runs"] if r["exit_code"] == 0]
    if not ok:
        run = w["runs"][0] if w["runs"] else {}
        tail = run.get("log_tail") or (run.get("build") or {}).get("log_tail", "")
        return [f"{run.get('status', 'not run')}.", "", "```", tail, "```"]

    def med(field: str) -> float:
        return statistics.median(r[field] for r in ok)

    b = ok[0]["build"]
    wall = med("wall_seconds")
    call, imports, command = (
        med("status_call_seconds"),
        med("import_seconds"),
        med("command_seconds"),
    )
    first = ok[0]
    return [
        f"The instance (first run): one real run of the whole graph for one day on DuckDB"
        f" ({b['graph_seconds']} s), then {b['runs_added']:,} runs of the Glue jobs added, round"
        f" robin, over the last {b['hours']:g} h ({b['failed_runs_added']:,} failed: planned,"
        f" not materialized), each a copy of the real run's record and asset events:"
        f" {b['planned_events_added']:,} planned events and {b['materializations_added']:,}"
        f" materializations, added in {b['add_seconds']} s; {b['runs_in_instance']:,} runs in"
        " the instance.",
        "",
        f"`climate-assets status --json` in a process of its own (medians over {len(ok)} runs):"
        f" process wall {wall:.2f} s; inside it, imports {imports:.2f} s, then the command"
        f" {command:.2f} s, of which the status call (definitions, every query) {call:.2f} s"
        f" and {command - call:.2f} s the instance (embedded PostgreSQL start) and printing."
        " The first run also brings Dagster's partition status cache up to date after the"
        f" added events; run again on the same instance: {_median_again(ok)} s process wall.",
        "",
        f"It saw {first['runs_seen_7d']:,} runs in the jobs' 7-day windows"
        f" ({first['failed_seen_7d']:,} failed); alarms by kind: {json.dumps(first['alarms'])}.",
    ]


def _ui_backfill_detail(w: dict) -> list[str]:
    """Launch to completed per run, and where it went: the runs' own time, their time queued,
    and the rest, waiting for the backfill daemon's next iteration."""
    ok = [r for r in w["runs"] if r["exit_code"] == 0]
    if not ok:
        run = w["runs"][0] if w["runs"] else {}
        return [
            f"{run.get('backfill_status', 'not run')}.",
            "",
            "```",
            run.get("log_tail", ""),
            "```",
        ]
    lines = [
        "Launch to completed (the backfill's status COMPLETED_SUCCESS, polled every second) per"
        " run, and its parts: the runs' own time (RUN_START to the end, summed; the waves of runs"
        " follow one another), their time from creation to RUN_START (the run queue, polled"
        " every `dequeue_interval_seconds`, then the run worker's process start: Python, Dagster"
        " and the code location loaded again), and the rest: waiting for the backfill daemon's"
        " next iteration, which requests the next wave (its loop runs every 30 s, a constant of"
        " Dagster, not a setting).",
        "",
        "| run | launch to completed s | runs | running s (sum) | queued and starting s (sum) |"
        " waiting for the daemon s | last run end to completed s |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(ok, 1):
        total, running, queued = (
            r["launch_to_completed_seconds"],
            r["runs_seconds_sum"],
            r["queued_seconds_sum"],
        )
        lines.append(
            f"| {i} | {total} | {len(r['runs'])} | {running} | {queued} |"
            f" {round(total - running - queued, 1)} | {r['last_run_end_to_completed_seconds']} |"
        )
    first = ok[0]
    lines += [
        "",
        f"The runs of run 1 ({first['assets']} assets), by when the daemon created them:",
        "",
    ]
    lines += [
        f"- +{r['created_after_launch']} s: {', '.join(r['assets'])} — queued and starting"
        f" {r['queued_seconds']} s, ran {r['run_seconds']} s ({r['status']})"
        for r in first["runs"]
    ]
    return lines


def _median_again(runs: list[dict]) -> str:
    walls = [(r.get("again") or {}).get("wall_seconds") for r in runs]
    walls = [x for x in walls if x is not None]
    return f"{statistics.median(walls):.2f}" if walls else "–"


def _engine_detail(w: dict) -> list[str]:
    """One engine's runs of a workload (or the sensor tick's): failures, steps, comparison."""
    lines: list[str] = []
    failed = [r for r in w["runs"] if r["exit_code"] != 0]
    for run in failed[:1]:
        lines += [
            "Failed run, last lines of its log:",
            "",
            "```",
            run.get("log_tail", ""),
            "```",
            "",
        ]
    if w["workload"]["kind"] == "sensor":
        run = w["runs"][0] if w["runs"] else {}
        if run.get("status") == "measured":
            lines += [
                f"Steady tick (every key known) {run['tick_seconds']} s over all arrival sensors;"
                f" first tick (every key new: each file read once for its MD5, runs requested)"
                f" {run['first_tick_seconds']} s.",
                "",
                "| sensor | first tick s | runs requested | steady tick s | its skip reason |",
                "|---|---|---|---|---|",
            ]
            for name, one in run["sensors"].items():
                lines.append(
                    f"| `{name}` | {one['first_tick_seconds']} | {one['first_tick']['run_requests']}"
                    f" | {one['tick_seconds']} | {one['tick']['skip_message']} |"
                )
        else:
            lines.append(f"{run.get('status', 'not run')}.")
        return lines
    rows = median_steps(w["runs"])
    if rows:
        lines += [
            "Per step, medians over the runs, seconds. *job*: the Glue job run's own time"
            " (*session start* is part of it: the Spark engine starts its session in the run's"
            " first job); *engine*: the job's read, validate, transform and Parquet staging;"
            " *checks*: the quality checks' aggregates; *postgres*: COPY and replace;"
            " *exports*: CSV and JSON staging (a job stages its outputs, loads PostgreSQL and"
            " measures its checks side by side: their shared wall time is split by each"
            " part's own seconds); *publish*: the"
            " atomic swaps into the lake; *other*: job time outside those stages (Pipes, listing,"
            " header checks); *orchestration*: step minus job (Dagster, Pipes, asset code);"
            " *per asset*: that over the step's assets (a multi-asset step shares it).",
            "",
        ]
        lines += _table(
            [
                "step", "step s", "job", "session start", "engine", "checks", "postgres", "exports",
                "publish", "other", "orchestration", "per asset", "Glue runs",
                "materializations",
            ],
            [
                [
                    r["step"], r["seconds"], r["job"], r["spark_start"], r["spark"], r["checks"],
                    r["postgres"], r["exports"], r["publish"], r["job_other"],
                    r["orchestration"], r["orchestration_per_asset"], r["glue_job_runs"],
                    r["materializations"],
                ]
                for r in rows
            ],
        )  # fmt: skip
        lines += ["", _where_time_goes(w, rows)]
        ok = [r for r in w["runs"] if r["exit_code"] == 0]
        if ok:
            run = ok[0]
            steps_total = sum(r["seconds"] or 0 for r in rows)
            lines += [
                "",
                f"Run: {run.get('run_seconds')} s in `run_whole_graph`, of which steps"
                f" {steps_total:.1f} s; first step started {run.get('first_step_after_run_start')} s"
                f" after RUN_START; before the run: imports {run.get('import_seconds')} s,"
                f" instance storage (embedded PostgreSQL, Dagster tables)"
                f" {run.get('instance_seconds')} s.",
            ]
            by_kind = run.get("cpu_by_kind")
            if by_kind:
                shown = "; ".join(f"{kind} {seconds:,.1f} s" for kind, seconds in by_kind.items())
                lines += ["", f"CPU seconds by process (first run): {shown}."]
    full = w.get("full_comparison")
    if full and "error" in full:
        lines += [
            "",
            f"Full-output floor vs this engine's pipeline: not compared ({full['error']}).",
        ]
    elif full:
        lines += [
            "",
            "Full-output floor vs this engine's pipeline, every output (first run of each):",
            "",
        ]
        outputs = [(k, "lake", v) for k, v in full["lake"].items()]
        outputs += [(f"climate_health.{k}", "PostgreSQL", v) for k, v in full["postgres"].items()]
        lines += _table(
            ["output", "in", "pipeline rows", "floor rows", "equal"],
            [[k, where, v.get("pipeline_rows"), v.get("floor_rows"), "yes" if v["equal"] else "NO"]
             for k, where, v in outputs],
        )  # fmt: skip
    comparison = w.get("comparison")
    if comparison:
        lines += [
            "",
            "Curated floor vs this engine's pipeline, curated Parquet (first run of each):",
            "",
        ]
        lines += _table(
            ["asset", "pipeline rows", "floor rows", "only pipeline", "only floor", "values differing", "equal"],
            [
                [a, c["pipeline_rows"], c["floor_rows"], c["only_in_pipeline"], c["only_in_floor"],
                 json.dumps(c["mismatched_values"]) if c["mismatched_values"] else "none", "yes" if c["equal"] else "NO"]
                for a, c in comparison.items()
            ],
        )  # fmt: skip
    return lines
