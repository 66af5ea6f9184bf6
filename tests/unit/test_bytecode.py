"""The first command's helper that compiles bytecode on the other core (climate_cli/bytecode.py),
run as a new install has it: a bytecode folder with nothing in it yet (PYTHONPYCACHEPREFIX)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from climate_cli.bytecode import AHEAD


def python(code: str, pycache: Path | None = None, *flags: str) -> subprocess.CompletedProcess:
    """``code`` in a Python that writes bytecode (under ``pycache``, when given)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if pycache:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


HELPER_RUN = """
import json
from climate_cli.bytecode import compile_ahead, uncompiled
before = uncompiled()
helper = compile_ahead()
code = helper.wait()
print(json.dumps({"before": before, "code": code, "after": uncompiled(), "again": repr(compile_ahead())}))
"""


def test_the_helper_compiles_the_modules_ahead_and_nothing_of_dagster(tmp_path):
    pycache = tmp_path / "pycache"
    seen = json.loads(python(HELPER_RUN, pycache).stdout)

    tops = list(dict.fromkeys(name.split(".")[0] for name in AHEAD))
    assert seen["before"] == tops  # a new install: none of them compiled
    assert seen["code"] == 0  # every import of AHEAD succeeded
    assert seen["after"] == []
    assert seen["again"] == "None"  # compiled now: a later command starts nothing

    compiled = {p.relative_to(pycache).as_posix() for p in pycache.rglob("*.pyc")}
    for module in AHEAD:  # each module named, as its own file's bytecode
        path = module.replace(".", "/")
        assert any(f"/{path}.cpython" in c or f"/{path}/__init__.cpython" in c for c in compiled), (
            module
        )
    # The command compiles Dagster itself, first: the helper must not do it at the same time.
    assert not [c for c in compiled if "/dagster/" in c or "/dagster_aws/" in c]


def test_a_python_that_writes_no_bytecode_starts_no_helper(tmp_path):
    code = "from climate_cli.bytecode import compile_ahead; print(compile_ahead())"
    assert python(code, tmp_path / "pycache", "-B").stdout.strip() == "None"


def test_every_module_ahead_is_one_a_run_imports():
    """What ``climate-assets demo`` imports: the code location, the demo, the generator, the
    Glue client of a run, the DuckDB engine and the dialects it transpiles between. A module
    the demo stopped importing would be compiled for nothing."""
    code = (
        "import sys, json\n"
        "import climate_assets.definitions, climate_cli.demo, climate_cli.generate\n"
        "import climate_assets.resources.glue_pipes\n"
        "from climate_glue.engines.duck import to_duckdb\n"
        "to_duckdb('SELECT 1')\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    imported = set(json.loads(python(code).stdout))
    assert [module for module in AHEAD if module not in imported] == []
