"""The first command after ``uv sync`` compiles bytecode on both cores, not one.

uv installs packages without their bytecode (compiling all of them, pyspark included, made
``uv sync`` 15 s longer: bench/ANALYSIS.md). Python compiles a module the first time it is
imported and keeps the result in ``__pycache__``, so a new user's first ``climate-assets demo``
compiles about 1,700 modules (35 MB of bytecode) one after the other on one core while the
machine's other core waits: about 3 of its 8 seconds (4.8 s the second time).

``compile_ahead`` starts a Python process that imports ``AHEAD`` while the command imports
Dagster. Importing compiles exactly the modules the command will use (a package's other modules
stay uncompiled, as they do now) and writes each one's bytecode where the command's own import
looks for it; whichever process gets to a module first compiles it, and Python writes each file
atomically, so the two never see half a file. None of ``AHEAD`` imports Dagster, which the
command compiles first itself. When their bytecode is there already (every command after the
first) nothing is started. What it saves, measured on fresh clones: bench/ANALYSIS.md.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from pathlib import Path

# Imported in this order by the helper process: the reverse of the order the command imports
# them in (its Glue client last, storage first), so that the two meet in the middle instead of
# compiling the same modules at the same time. Each is imported by ``climate-assets demo``
# (tests/unit/test_bytecode.py checks that, and that none of them imports Dagster).
AHEAD = (
    "boto3",
    "s3transfer.manager",
    "fsspec",
    "numpy",
    "duckdb",
    "sqlglot.dialects.duckdb",
    "sqlglot.dialects.spark",
    "sqlglot.optimizer.qualify",
    "sqlglot.lineage",
    "rich.console",
    "alembic.runtime.migration",
    "alembic.config",
    "alembic.command",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
)


def uncompiled(modules: tuple[str, ...] = AHEAD) -> list[str]:
    """The top-level packages of ``modules`` whose ``__init__`` has no bytecode here yet (none
    is imported to find out)."""
    missing = []
    for top in dict.fromkeys(name.split(".")[0] for name in modules):
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        if not Path(importlib.util.cache_from_source(spec.origin)).exists():
            missing.append(top)
    return missing


def compile_ahead(modules: tuple[str, ...] = AHEAD) -> subprocess.Popen | None:
    """Start the helper process when ``modules`` are not compiled yet and this Python writes
    bytecode; return it (None when there is nothing to do). A thread reaps it when it ends; it
    ends on its own, whatever the command does meanwhile, and an import that fails in it fails
    again in the command, which reports it."""
    if sys.dont_write_bytecode or not uncompiled(modules):
        return None
    helper = subprocess.Popen(
        [sys.executable, "-c", "import " + ", ".join(modules)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    threading.Thread(target=helper.wait, name="compile-ahead", daemon=True).start()
    return helper
