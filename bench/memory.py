"""Peak memory of a process tree, sampled with psutil while it runs.

The tree is the benchmarked process, every descendant (the Spark JVM, its Python workers) and
every process whose command line names the run's state folder (the embedded PostgreSQL's
postmaster, which pgserver starts detached) with its children (the server's backends). Two sums are kept per sample: RSS (counts shared pages once per
process, so an upper bound) and USS (pages only that process has: a lower bound of what the
tree needs). The peak of each sum over the run is reported.

It also adds up the CPU seconds (user + system) of every process it saw, as last sampled:
on a machine shared with other work, CPU time varies much less than wall time. The CPU is
also split by kind of process (``cpu_by_kind``), so a profile can tell the Dagster process from
the Spark JVM, Spark's Python workers and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

import psutil

PYTHON_KIND = "python (Dagster, job drivers; the DuckDB engine runs here)"


def process_kind(process: psutil.Process, root: int) -> str:
    """What a process of the tree is: the benchmarked Python process (with the DuckDB engine,
    the jobs run in it), the Spark JVM, a Spark Python worker, PostgreSQL, or other. Nothing
    assumes a JVM exists: a DuckDB run's tree is Python and PostgreSQL only."""
    if process.pid == root:
        return PYTHON_KIND
    try:
        cmdline = " ".join(process.cmdline())
        name = process.name()
    except psutil.Error:
        return "other"
    if "pyspark.daemon" in cmdline or "pyspark/daemon" in cmdline:
        return "spark python workers"
    if name == "java" or "java" in cmdline.split(" ")[0]:
        return "spark jvm"
    if "postgres" in name or "postgres" in cmdline.split(" ")[0]:
        return "postgresql"
    return "other"


class PeakMemory:
    """Samples RSS and CPU every ``interval`` seconds; USS, and the search for processes that
    name the marker, every ``full_every`` samples: reading a 2 GiB JVM's page map for its USS
    costs tens of milliseconds, and sampling it as often as RSS took a noticeable share of a
    core from the run being measured (``sampler_cpu_seconds`` reports what sampling cost)."""

    def __init__(
        self, pid: int, marker: str | None = None, interval: float = 0.25, full_every: int = 4
    ):
        self.pid = pid
        self.marker = marker
        self.interval = interval
        self.full_every = full_every
        self.sampler_cpu = 0.0
        self._marked: dict[int, psutil.Process] = {}
        self.peak_rss = 0
        self.peak_uss = 0
        self.peak_processes = 0
        self.samples = 0
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> CPU seconds
        self._kind: dict[tuple[int, float], str] = {}  # (pid, create time) -> process_kind()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-memory", daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        try:
            root = psutil.Process(self.pid)
            found[root.pid] = root
            for child in root.children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            pass
        if self.marker and self.samples % self.full_every == 0:
            self._marked = {}
            for process in psutil.process_iter(["cmdline"]):
                cmdline = process.info.get("cmdline") or []
                if any(self.marker in part for part in cmdline):
                    self._marked[process.pid] = process
        for pid, process in self._marked.items():
            found.setdefault(pid, process)
            # The postmaster's children (backends, the COPY streams' among them, checkpointer,
            # writers) name only their role ("postgres: checkpointer"), not the folder: they are
            # found through it, at every sample, since a COPY's backend may live under a second.
            with contextlib.suppress(psutil.Error):
                for child in process.children(recursive=True):
                    found.setdefault(child.pid, child)
        return list(found.values())

    def terminate(self, grace: float = 10.0) -> int:
        """End every process of the tree still running (TERM, then KILL); returns how many."""
        left = [p for p in self._tree() if p.pid != os.getpid()]
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(left, timeout=grace)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        return len(left)

    def sample(self) -> None:
        rss = uss = 0
        full = self.samples % self.full_every == 0
        processes = self._tree()
        for process in processes:
            try:
                info = process.memory_full_info() if full else process.memory_info()
            except psutil.Error:
                continue
            rss += info.rss
            if full:
                uss += getattr(info, "uss", info.rss)
            try:
                times = process.cpu_times()
                key = (process.pid, process.create_time())
                self._cpu[key] = times.user + times.system
                # Until known: pyspark starts the JVM through a shell script that execs java.
                if self._kind.get(key, "other") == "other":
                    self._kind[key] = process_kind(process, self.pid)
            except psutil.Error:
                pass
        self.peak_rss = max(self.peak_rss, rss)
        if full:
            self.peak_uss = max(self.peak_uss, uss)
        self.peak_processes = max(self.peak_processes, len(processes))
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            cpu = time.thread_time()
            self.sample()
            self.sampler_cpu += time.thread_time() - cpu
            self._stop.wait(max(0.0, self.interval - (time.perf_counter() - started)))

    def seen_pids(self) -> set[int]:
        return {pid for pid, _ in self._cpu}

    def cpu_by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for key, seconds in self._cpu.items():
            kind = self._kind.get(key, "other")
            totals[kind] = round(totals.get(kind, 0.0) + seconds, 2)
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def to_json(self) -> dict:
        return {
            "cpu_by_kind": self.cpu_by_kind(),
            "peak_rss_bytes": self.peak_rss,
            "peak_uss_bytes": self.peak_uss,
            "peak_processes": self.peak_processes,
            "cpu_seconds": round(sum(self._cpu.values()), 2),
            "sampler_cpu_seconds": round(self.sampler_cpu, 2),
            "samples": self.samples,
        }
