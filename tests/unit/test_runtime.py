"""The job runtime's concurrent parts: results in order, every part run, failures raised."""

from __future__ import annotations

import threading
import time

import pytest
from climate_glue.runtime import Timings, run_concurrently


def test_parts_run_side_by_side_and_return_in_order() -> None:
    started = threading.Barrier(2, timeout=5)  # both parts must be running at once to pass

    def part(value: int):
        def run() -> int:
            started.wait()
            return value

        return run

    assert run_concurrently([part(1), part(2)], workers=2) == [1, 2]


def test_a_failing_part_lets_the_others_finish_then_raises() -> None:
    finished = []

    def fail() -> None:
        raise ValueError("staging failed")

    def slow() -> None:
        time.sleep(0.2)
        finished.append("slow")

    with pytest.raises(ValueError, match="staging failed"):
        run_concurrently([fail, slow], workers=2)
    assert finished == ["slow"]


def test_parts_add_their_own_seconds_from_any_thread() -> None:
    timings = Timings()

    def part() -> None:
        with timings.part("write_lake"):
            time.sleep(0.05)

    with timings.stage("outputs"):
        run_concurrently([part, part, part], workers=3)
    meta = timings.metadata()
    assert meta["busy_seconds_write_lake"] >= 0.15  # three parts, overlapping
    assert 0.05 <= meta["seconds_outputs"] < meta["busy_seconds_write_lake"]
