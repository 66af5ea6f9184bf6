"""``climate-assets dev`` (webserver + daemon) for the end-to-end tests that drive it."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from climate_cli.generate import generate_landing_zone


@pytest.fixture(scope="module")
def start_dev():
    """Starts ``climate-assets dev`` (webserver + daemon) for a test module and stops it after.

    ``start_dev(state, scratch, log, env)`` returns the running ``tests.dev_support.Dev`` once
    its code location has loaded; everything it started is stopped when the module is done.
    """
    from tests.dev_support import Dev, free_port, start, stop

    started = []

    def _start(state, scratch, log, env: dict[str, str]) -> Dev:
        dev = Dev(state, scratch, free_port(), log)
        started.append(dev)
        start(dev, env)
        return dev

    try:
        yield _start
    finally:
        for dev in started:
            stop(dev)


@pytest.fixture(scope="module")
def dev(request, tmp_path_factory, start_dev):
    """``climate-assets dev`` on a new state for the module's tests: its lake holds the
    locations file already, and the daily files of a landing zone generated from 2024-07-01 wait
    in ``dev.scratch`` for the tests to drop. The module says how big that landing zone is,
    ``DEV_LANDING = {"locations": ..., "days": ...}``, and what dev's environment adds,
    ``DEV_ENV``."""
    root = tmp_path_factory.mktemp("dev")
    state, scratch = root / "state", root / "scratch"
    landing = request.module.DEV_LANDING
    generate_landing_zone(scratch, start=date(2024, 7, 1), seed=5, **landing)
    shutil.copytree(scratch / "raw/locations", state / "lake/raw/locations")  # already in place
    return start_dev(state, scratch, root / "dev.log", request.module.DEV_ENV)
