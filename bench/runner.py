"""``python -m bench``: generate each workload's landing zone, run it, write the results.

Every repeat of a workload runs in a fresh process on a fresh state folder (its own lake,
embedded PostgreSQL and Dagster instance), with the cached landing zone hard-linked in, so
each repeat pays what a real run pays: Python imports, the Spark JVM, PostgreSQL start. The
parent samples the memory of the whole process tree while it runs (see ``memory.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import psutil

from .compare import compare_curated, compare_full
from .memory import PeakMemory
from .report import render
from .targets import evaluate
from .workloads import (
    DROP,
    DROP_SENSOR_INTERVAL,
    ENGINE_NAMES,
    ENV_ENGINE,
    FULL,
    GRAPH,
    SENSOR,
    UI_BACKFILL,
    Workload,
    select,
)

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
DEFAULT_DATA_DIR = BENCH_DIR / ".data"
CHILD_TIMEOUT = 3 * 3600


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- environment -----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _command_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine() -> dict:
    memory = psutil.virtual_memory()
    return {
        "hostname": platform.node(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory.total / 2**30, 1),
        "cpu_model": _cpu_model(),
        "os": platform.platform(),
    }


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("dagster", "dagster-aws", "pyspark", "duckdb", "pgserver", "psycopg"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    # Found, not imported: importing pgserver warns about XDG_RUNTIME_DIR where it is unset.
    postgres = Path(find_spec("pgserver").origin).parent / "pginstall" / "bin" / "postgres"
    found["postgres"] = _command_version([str(postgres), "--version"])
    try:  # only the Spark engine needs Java: a DuckDB-only machine may have none
        from climate_assets.local_glue.spark import find_java_home

        java = str(Path(find_java_home(), "bin", "java"))
    except Exception:
        found["java"] = "absent"
    else:
        found["java"] = _command_version([java, "-version"])
    return found


# --- landing zones ---------------------------------------------------------------------------


def ensure_landing_zone(workload: Workload, data_dir: Path) -> dict:
    """The workload's landing zone, generated once and cached (generation is deterministic)."""
    from climate_cli.generate import generate_landing_zone

    root = data_dir / workload.data_name
    done = root / "generated.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(root, ignore_errors=True)
    log(f"{workload.name}: generating {workload.locations:,} locations x {workload.days} days")
    started = time.perf_counter()
    generated = generate_landing_zone(
        root / "lake", workload.locations, workload.days, workload.start, workload.seed
    )
    raw = root / "lake" / "raw"
    sizes = {p.name: sum(f.stat().st_size for f in p.rglob("*.csv")) for p in raw.iterdir()}
    info = {
        "rows": generated.rows,
        "files": len(generated.files),
        "raw_bytes": sizes,
        "daily_bytes_per_day": sum(v for k, v in sizes.items() if k != "locations")
        // workload.days,
        "generate_seconds": round(time.perf_counter() - started, 2),
    }
    done.write_text(json.dumps(info, indent=1))
    return info


def fresh_state(workload: Workload, data_dir: Path, state: Path) -> None:
    """A new state folder whose lake has the cached landing zone (hard links: no copy)."""
    shutil.rmtree(state, ignore_errors=True)
    source = data_dir / workload.data_name / "lake" / "raw"
    shutil.copytree(source, state / "lake" / "raw", copy_function=os.link)


# --- running ---------------------------------------------------------------------------------


def process_cpu() -> dict[tuple[int, float], float]:
    """CPU seconds (user + system) of every process now running, by (pid, create time)."""
    found = {}
    for process in psutil.process_iter(["pid", "create_time", "cpu_times"]):
        times = process.info.get("cpu_times")
        if times is not None:
            found[(process.info["pid"], process.info["create_time"])] = times.user + times.system
    return found


def other_cpu_seconds(before: dict, after: dict, measured: set[int]) -> float:
    """CPU that processes outside the measured tree (and this runner) used between two
    snapshots: how much other work shared the cores. A process started meanwhile counts whole;
    one that started and ended between the snapshots is not seen."""
    skip = measured | {os.getpid()}
    return sum(cpu - before.get(key, 0.0) for key, cpu in after.items() if key[0] not in skip)


def run_child(
    command: list[str],
    marker: str,
    log_path: Path,
    engine: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict:
    """Run a child process, sampling its tree's memory; wall seconds from spawn to exit. With
    ``engine``, the child's job scripts run on it (``CLIMATE_ENGINE``); ``extra_env``: more
    settings for the child."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    # Bytecode is cached as on a user's machine: where PYTHONDONTWRITEBYTECODE is set (this
    # project's machines), every process would compile dagster and its dependencies again,
    # about 8 CPU seconds that a user pays once (bench/ANALYSIS.md, issue 21).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if engine:
        env[ENV_ENGINE] = engine
    others_before = process_cpu()
    with log_path.open("w") as log_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        with PeakMemory(process.pid, marker=marker) as memory:
            try:
                code = process.wait(timeout=CHILD_TIMEOUT)
            except BaseException:  # timed out or interrupted: leave nothing running
                memory.terminate()
                code = process.wait()
                if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                    raise
        wall = time.perf_counter() - started
        # The embedded PostgreSQL stops when its last user exits; make sure of it.
        leftovers = memory.terminate()
    measured = memory.to_json()
    others = other_cpu_seconds(others_before, process_cpu(), memory.seen_pids())
    return {
        "exit_code": code,
        "wall_seconds": round(wall, 3),
        "leftover_processes": leftovers,
        **measured,
        "other_cpu_seconds": round(max(0.0, others), 2),
    }


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_pipeline(workload: Workload, state: Path, engine: str) -> dict:
    out = state / "bench-run.json"
    command = [
        sys.executable, "-m", "bench.pipeline", "--state", str(state),
        "--start", workload.start.isoformat(), "--end", workload.end.isoformat(),
        "--out", str(out),
    ]  # fmt: skip
    if workload.select:
        command += ["--select", ",".join(workload.select)]
    result = run_child(command, str(state), state / "bench-run.log", engine, dict(workload.env))
    result["engine"] = engine
    if out.exists():
        result.update(json.loads(out.read_text()))
    if result["exit_code"] != 0:
        result["log_tail"] = _tail(state / "bench-run.log")
    return result


def _run_floor_child(
    module: str, name: str, workload: Workload, data_dir: Path, state: Path, where: str
) -> dict:
    """``python -m bench.<module>`` on the workload's landing zone, writing into ``state``
    (given as ``--<where>``), its summary and log there as ``<name>.json`` and ``.log``."""
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    summary, log_file = state / f"{name}.json", state / f"{name}.log"
    command = [
        sys.executable, "-m", f"bench.{module}",
        "--lake-root", str(data_dir / workload.data_name / "lake"), f"--{where}", str(state),
        "--start", workload.start.isoformat(), "--end", workload.end.isoformat(),
        "--json", str(summary),
    ]  # fmt: skip
    result = run_child(command, str(state), log_file)
    if summary.exists():
        result.update(json.loads(summary.read_text()))
    if result["exit_code"] != 0:
        result["log_tail"] = _tail(log_file)
    return result


def run_floor(workload: Workload, data_dir: Path, out: Path) -> dict:
    """``bench.floor_duckdb``: the same landing zone to the curated Parquet."""
    return _run_floor_child("floor_duckdb", "floor", workload, data_dir, out, "out")


def run_full_floor(workload: Workload, data_dir: Path, state: Path) -> dict:
    """``bench.floor_full``: the same landing zone to every output, its own embedded
    PostgreSQL on ``state/pgdata`` started inside the measured process, as the pipeline's."""
    return _run_floor_child("floor_full", "floor-full", workload, data_dir, state, "state")


def compare_full_outputs(pipeline_state: Path, floor_state: Path) -> dict:
    """Every output of a pipeline run against the full floor's (``compare.compare_full``), each
    embedded PostgreSQL started for it and stopped after. A comparison that cannot run is
    recorded (``error``), not the end of the benchmark."""
    from climate_glue.warehouse import EMBEDDED_DATABASE

    from climate_assets.resources.embedded_postgres import embedded_server

    try:
        with (
            embedded_server(str(pipeline_state / "pgdata")) as pipeline,
            embedded_server(str(floor_state / "pgdata")) as floor,
        ):
            return compare_full(
                pipeline_state / "lake",
                pipeline.get_uri(EMBEDDED_DATABASE),
                floor_state / "lake",
                floor.get_uri(EMBEDDED_DATABASE),
            )
    except Exception as exc:
        return {"equal": False, "error": f"{type(exc).__name__}: {exc}"}


def run_sensor(workload: Workload, state: Path) -> dict:
    out = state / "bench-sensor.json"
    command = [sys.executable, "-m", "bench.sensor_tick", "--state", str(state), "--out", str(out)]
    result = run_child(command, str(state), state / "bench-sensor.log")
    if out.exists():
        result.update(json.loads(out.read_text()))
    if result["exit_code"] != 0:
        result["log_tail"] = _tail(state / "bench-sensor.log")
    return result


def run_ui_backfill(workload: Workload, state: Path) -> dict:
    """The demo's state, ``climate-assets dev`` on it, then a backfill of the whole graph over
    the workload's days launched as the UI does: ``launch_to_completed_seconds`` (measured by
    the child, ``bench/ui_backfill.py``) and where that time went."""
    out = state / "bench-ui-backfill.json"
    command = [
        sys.executable, "-m", "bench.ui_backfill", "--state", str(state),
        "--start", workload.start.isoformat(), "--end", workload.end.isoformat(),
        "--out", str(out),
    ]  # fmt: skip
    result = run_child(command, str(state), state / "bench-ui-backfill.log", "duckdb")
    if out.exists():
        result.update(json.loads(out.read_text()))
    if result["exit_code"] != 0:
        result["log_tail"] = _tail(state / "bench-ui-backfill.log")
    return result


def run_status(workload: Workload, state: Path) -> dict:
    """Build the instance (one real run of the graph on DuckDB, then ``workload.runs`` more;
    not measured), then ``climate-assets status --json`` in a process of its own, measured: the
    first time (it also brings Dagster's partition status cache up to date) and ``again``."""
    built = state / "bench-status-build.json"
    command = [
        sys.executable, "-m", "bench.status_runs", "build", "--state", str(state),
        "--day", workload.start.isoformat(), "--runs", str(workload.runs), "--out", str(built),
    ]  # fmt: skip
    build = run_child(command, str(state), state / "bench-status-build.log", "duckdb")
    if build["exit_code"] != 0 or not built.exists():
        build["log_tail"] = _tail(state / "bench-status-build.log")
        return {**build, "status": "not measured: building the instance failed", "build": build}
    build.update(json.loads(built.read_text()))
    tries = []
    for i in range(2):
        out = state / f"bench-status-{i}.json"
        command = [
            sys.executable, "-m", "bench.status_runs", "time", "--state", str(state),
            "--out", str(out),
        ]  # fmt: skip
        run = run_child(command, str(state), state / f"bench-status-{i}.log")
        if out.exists():
            run.update(json.loads(out.read_text()))
        if run["exit_code"] != 0:
            run["log_tail"] = _tail(state / f"bench-status-{i}.log")
        tries.append(run)
    first, again = tries
    first["status"] = "measured" if first["exit_code"] == 0 else "failed"
    return {**first, "again": again, "build": build}


def run_drop(workload: Workload, data_dir: Path, state: Path) -> dict:
    """``bench.drop`` on the cached landing zone: all days but the last processed, ``dev``
    started, the last day dropped (see bench/drop.py); its own process, measured whole."""
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    out = state / "bench-drop.json"
    command = [
        sys.executable, "-m", "bench.drop", "--landing", str(data_dir / workload.data_name / "lake"),
        "--state", str(state), "--start", workload.start.isoformat(),
        "--days", str(workload.days - 1), "--interval", str(DROP_SENSOR_INTERVAL),
        "--out", str(out),
    ]  # fmt: skip
    result = run_child(command, str(state), state / "bench-drop.log", "duckdb")
    if out.exists():
        result.update(json.loads(out.read_text()))
    if result["exit_code"] != 0:
        result["log_tail"] = _tail(state / "bench-drop.log")
    return result


def spread(values: list[float]) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }


def summarize(runs: list[dict]) -> dict:
    """Medians with min and max over the successful runs (status: also its call and again)."""
    ok = [r for r in runs if r["exit_code"] == 0]
    status = {
        "status_call_seconds": spread([r.get("status_call_seconds") for r in ok]),
        "again_wall_seconds": spread([(r.get("again") or {}).get("wall_seconds") for r in ok]),
        "launch_to_completed_seconds": spread([r.get("launch_to_completed_seconds") for r in ok]),
        "drop_seconds": spread([r.get("drop_seconds") for r in ok]),
    }
    return {
        "wall_seconds": spread([r["wall_seconds"] for r in ok]),
        "run_seconds": spread([r.get("run_seconds") for r in ok]),
        "peak_rss_bytes": spread([r["peak_rss_bytes"] for r in ok]),
        "peak_uss_bytes": spread([r["peak_uss_bytes"] for r in ok]),
        "cpu_seconds": spread([r.get("cpu_seconds") for r in ok]),
        "other_cpu_seconds": spread([r.get("other_cpu_seconds") for r in ok]),
        **{k: v for k, v in status.items() if v is not None},
        "failed_runs": len(runs) - len(ok),
    }


def _log_run(workload: Workload, label: str, i: int, run: dict) -> None:
    log(
        f"{workload.name} [{label}]: run {i + 1} {'ok' if run['exit_code'] == 0 else 'FAILED'}"
        f" in {run['wall_seconds']:.1f}s, peak RSS {run['peak_rss_bytes'] / 2**20:,.0f} MiB"
    )


def run_workload(
    workload: Workload,
    repeat: int,
    data_dir: Path,
    work: Path,
    keep: bool,
    engines: list[str] | None = None,
) -> dict:
    """A graph workload runs ``repeat`` times on each engine (``engines[name]``: runs, summary,
    its first run's outputs compared with the floors'), then both floors ``repeat`` times;
    the sensor tick and status, which run no job measured, ``repeat`` times (``runs``,
    ``summary``)."""
    landing = ensure_landing_zone(workload, data_dir)
    result: dict = {"workload": workload.to_json(), "landing_zone": landing}
    if workload.kind != GRAPH:
        result["runs"] = []
        for i in range(repeat):
            state = work / f"{workload.name}-{i}"
            log(f"{workload.name}: run {i + 1}/{repeat}")
            if workload.kind == DROP:  # prepares its own state from the landing zone
                run = run_drop(workload, data_dir, state)
                log(f"{workload.name}: {run.get('drop_seconds')} s from the drop to its metrics")
            else:
                fresh_state(workload, data_dir, state)
            if workload.kind == SENSOR:
                run = run_sensor(workload, state)
                log(f"{workload.name}: {run.get('status')} {run.get('tick_seconds', '')}")
            elif workload.kind == UI_BACKFILL:
                run = run_ui_backfill(workload, state)
                log(
                    f"{workload.name}: {run.get('backfill_status')} in"
                    f" {run.get('launch_to_completed_seconds')} s from launch"
                )
            elif workload.kind != DROP:
                run = run_status(workload, state)
                log(f"{workload.name}: {run.get('status')} in {run['wall_seconds']:.1f}s")
            result["runs"].append(run)
            if not keep:
                shutil.rmtree(state, ignore_errors=True)
        result["summary"] = summarize(result["runs"])
        return result
    result["engines"] = {}
    engines = list(workload.engines) or engines or ENGINE_NAMES
    first_states: dict[str, Path] = {}
    for engine in engines:
        runs = []
        for i in range(repeat):
            state = work / f"{workload.name}-{engine}-{i}"
            fresh_state(workload, data_dir, state)
            log(f"{workload.name} [{engine}]: run {i + 1}/{repeat}")
            run = run_pipeline(workload, state, engine)
            _log_run(workload, engine, i, run)
            runs.append(run)
            if workload.floor and i == 0 and run["exit_code"] == 0:
                first_states[engine] = state  # kept for the comparison with the floor
            elif not keep:
                shutil.rmtree(state, ignore_errors=True)
        result["engines"][engine] = {"runs": runs, "summary": summarize(runs)}
    if workload.floor:
        _run_floors(workload, repeat, data_dir, work, keep, result, first_states)
    if not keep:
        for state in first_states.values():
            shutil.rmtree(state, ignore_errors=True)
    return result


def floor_spread(runs: list[dict]) -> dict:
    """A floor's medians with min and max over its successful runs."""
    ok = [r for r in runs if r["exit_code"] == 0]
    return {
        "wall_seconds": spread([r["wall_seconds"] for r in ok]),
        "seconds": spread([r.get("seconds") for r in ok]),
        "peak_rss_bytes": spread([r["peak_rss_bytes"] for r in ok]),
        "peak_uss_bytes": spread([r["peak_uss_bytes"] for r in ok]),
        "cpu_seconds": spread([r.get("cpu_seconds") for r in ok]),
        "failed_runs": len(runs) - len(ok),
    }


def _run_floors(
    workload: Workload,
    repeat: int,
    data_dir: Path,
    work: Path,
    keep: bool,
    result: dict,
    first_states: dict[str, Path],
) -> None:
    """Both floors ``repeat`` times, alternating (the curated floor: ``floor_runs``,
    ``floor_summary``; the full-output floor: ``full_floor_runs``, ``full_floor_summary``);
    each one's first run compared with each engine's first run (``comparison``,
    ``full_comparison``)."""
    result["floor_runs"], result["full_floor_runs"] = [], []
    for i in range(repeat):
        out = work / f"{workload.name}-floor-{i}"
        log(f"{workload.name}: curated floor {i + 1}/{repeat}")
        floor = run_floor(workload, data_dir, out)
        result["floor_runs"].append(floor)
        log(f"{workload.name}: curated floor {floor['wall_seconds']:.1f}s")
        full_state = work / f"{workload.name}-floor-full-{i}"
        log(f"{workload.name}: full-output floor {i + 1}/{repeat}")
        full = run_full_floor(workload, data_dir, full_state)
        result["full_floor_runs"].append(full)
        log(f"{workload.name}: full-output floor {full['wall_seconds']:.1f}s")
        if i == 0:
            _compare_first_runs(result, first_states, floor, out, full, full_state)
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(full_state, ignore_errors=True)
    result["floor_summary"] = floor_spread(result["floor_runs"])
    result["full_floor_summary"] = floor_spread(result["full_floor_runs"])


def _compare_first_runs(
    result: dict,
    first_states: dict[str, Path],
    floor: dict,
    out: Path,
    full: dict,
    full_state: Path,
) -> None:
    """Each engine's first run against each floor's first run (kept until then)."""
    for engine, state in first_states.items():
        if not state.exists():
            continue
        part = result["engines"][engine]
        if floor["exit_code"] == 0:
            part["comparison"] = compare_curated(state / "lake", out)
        if full["exit_code"] == 0:
            part["full_comparison"] = compare_full_outputs(state, full_state)
            equal = part["full_comparison"]["equal"]
            log(f"{engine} engine vs full-output floor: {'equal' if equal else 'DIFFERENT'}")


def _merge_workload(base: dict | None, extra: dict) -> dict:
    """A workload run again: ``extra``'s engines, ``base``'s engines that ``extra`` did not run
    (``--engine duckdb`` one run, ``--engine spark`` the next), and the floors of both (each
    run of the suite runs them: the median is over all their runs)."""
    if base is None:
        return extra
    merged = {**base, **extra, "engines": {**base.get("engines", {}), **extra.get("engines", {})}}
    for runs, summary in (
        ("floor_runs", "floor_summary"),
        ("full_floor_runs", "full_floor_summary"),
    ):
        if base.get(runs) and extra.get(runs):  # the floors of both runs, one median over all
            merged[runs] = [*base[runs], *extra[runs]]
            merged[summary] = floor_spread(merged[runs])
    return merged


def merge(base: dict, extra: dict, extra_name: str) -> dict:
    """``base`` with ``extra``'s workloads added (or replacing base's of the same name, engine by
    engine), and a note of where and when those ran (``merged``): RESULTS.md over two runs of
    the suite."""
    if bool(base.get("quick")) != bool(extra.get("quick")):
        raise SystemExit("--onto: cannot merge quick-size results with full-size ones")
    merged = json.loads(json.dumps(base))
    merged["workloads"] = {
        **base["workloads"],
        **{
            name: _merge_workload(base["workloads"].get(name), workload)
            for name, workload in extra["workloads"].items()
        },
    }
    note = {
        k: extra.get(k)
        for k in ("started", "finished", "repeat", "load_average_start", "load_average_end")
    }
    # The engines of both runs (results from before the engines measured Spark only).
    engines = [*base.get("engines", ["spark"]), *extra.get("engines", ["spark"])]
    merged["engines"] = list(dict.fromkeys(engines))
    merged["merged"] = [
        *base.get("merged", []),
        {"file": extra_name, "workloads": list(extra["workloads"]), **note},
    ]
    merged["targets"] = evaluate(merged)
    return merged


def write_report(results: dict, raw_name: str, out: Path, onto: list[Path] | None = None) -> None:
    """RESULTS.md from ``results`` (in ``bench/results/<raw_name>``), or from the results files
    ``onto`` (the first, then each next merged in) with those results merged in last."""
    shown, name = results, raw_name
    if onto:
        shown, name = json.loads(onto[0].read_text()), onto[0].name
        for earlier in onto[1:]:
            shown = merge(shown, json.loads(earlier.read_text()), earlier.name)
        shown = merge(shown, results, raw_name)
    history = sorted((out / "results").glob("*.json"))
    (out / "RESULTS.md").write_text(render(shown, name, history))


def write_results(results: dict, out: Path, stamp: str, onto: list[Path] | None = None) -> None:
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = evaluate(results)
    (out / "results").mkdir(parents=True, exist_ok=True)
    raw = out / "results" / f"{stamp}.json"
    raw.write_text(json.dumps(results, indent=1, default=str))
    write_report(results, raw.name, out, onto)
    log(f"wrote {out / 'RESULTS.md'} and {raw}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "workloads",
        nargs="*",
        help=f"{', '.join(FULL)} (default: all)",
    )
    parser.add_argument(
        "--engine",
        default=",".join(ENGINE_NAMES),
        help="comma list of the engines each graph workload runs on (default: duckdb,spark)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload (median)")
    parser.add_argument("--quick", action="store_true", help="tiny workloads: checks the runner")
    parser.add_argument("--out", type=Path, default=BENCH_DIR, help="RESULTS.md and results/")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--keep", action="store_true", help="keep each run's state folder")
    parser.add_argument(
        "--render", type=Path, help="only rewrite RESULTS.md from this results JSON file"
    )
    parser.add_argument(
        "--onto",
        type=Path,
        action="append",
        help="a results JSON file: RESULTS.md shows its workloads with this run's (or --render's)"
        " added or replacing them; this run's own results file keeps only what ran. Given again,"
        " each next file is merged onto the first before this run",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.engines = parse_engines(args.engine, parser)
    return args


def parse_engines(text: str, parser: argparse.ArgumentParser | None = None) -> list[str]:
    """``duckdb,spark`` -> ["duckdb", "spark"] (order kept, duplicates dropped)."""
    names = list(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in ENGINE_NAMES]
    if unknown or not names:
        message = f"--engine: unknown {unknown or text!r}; known: {', '.join(ENGINE_NAMES)}"
        if parser is None:
            raise ValueError(message)
        parser.error(message)
    return names


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    # Stopped by Ctrl-C or a TERM (also when started in the background, where the shell
    # ignores SIGINT): raise, so the running child's whole tree is ended before exiting.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    args = parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text())
        results["targets"] = evaluate(results)
        write_report(results, args.render.name, args.out, args.onto)
        return 0
    workloads = select(args.workloads, args.quick)
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
    work = args.data_dir / "runs" / stamp
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeat": args.repeat,
        "engines": args.engines,
        "machine": machine(),
        "versions": versions(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "workloads": {},
    }
    log(f"machine {results['machine']}, load {results['load_average_start']}")
    for workload in workloads:
        results["workloads"][workload.name] = run_workload(
            workload, args.repeat, args.data_dir, work, args.keep, args.engines
        )
        # After each workload: a long run keeps its part.
        write_results(results, args.out, stamp, args.onto)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    failed = sum(
        part["summary"]["failed_runs"]
        for w in results["workloads"].values()
        for part in [w, *w.get("engines", {}).values()]
        if "summary" in part
    ) + sum(
        w.get(floors, {}).get("failed_runs", 0)
        for w in results["workloads"].values()
        for floors in ("floor_summary", "full_floor_summary")
    )
    return 1 if failed else 0
