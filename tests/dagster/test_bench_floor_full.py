"""The full-output floor (``bench/floor_full.py``) writes what the pipeline writes: a real run
of the whole graph on the DuckDB engine and the floor on the same landing zone, every output
compared (``bench.compare.compare_full``): processed and curated Parquet, CSV and JSON exports,
the seven PostgreSQL tables. Then the floor's outputs lose a column and a table, and the
comparison says so. A one-day run (the floor writes its day's files without DuckDB's
partitioned writer) and a two-day run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest
from climate_glue.contract import WAREHOUSE_SCHEMA
from climate_glue.warehouse import EMBEDDED_DATABASE

from bench.compare import compare_full
from bench.floor_full import run_full_floor
from climate_assets.resources.embedded_postgres import embedded_server
from climate_cli.generate import generate_landing_zone
from tests.support import materialize_days

pytestmark = pytest.mark.e2e

START, END = date(2024, 7, 1), date(2024, 7, 2)


def _landing_zone(lake: Path) -> None:
    """The generator's files, with an identical duplicate row (kept once by both) and a
    climate file whose optional columns are absent (null in both)."""
    generate_landing_zone(lake, locations=6, days=2, start=START, seed=11)
    climate = lake / f"raw/climate/date={START}/climate.csv"
    lines = climate.read_text().splitlines()
    climate.write_text("\n".join([*lines, lines[1]]) + "\n")
    later = lake / f"raw/climate/date={END}/climate.csv"
    rows = [line.split(",") for line in later.read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if name not in ("humidity_pct", "wind_speed_ms")]
    later.write_text("\n".join(",".join(row[i] for i in keep) for row in rows) + "\n")


@pytest.mark.parametrize("end", [START, END], ids=["one-day", "two-days"])
def test_full_floor_writes_every_output_of_the_pipeline(
    tmp_path: Path, monkeypatch, end: date
) -> None:
    for name in ("CLIMATE_WAREHOUSE_URL", "CLIMATE_LAKE_ROOT", "CLIMATE_ENV", "CLIMATE_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    pipeline_state, floor_state = tmp_path / "pipeline", tmp_path / "floor"
    _landing_zone(pipeline_state / "lake")
    result, log = materialize_days(pipeline_state, START.isoformat(), end.isoformat())
    assert result.success, log[-3000:]

    summary = run_full_floor(pipeline_state / "lake", floor_state, START, end)
    days = (end - START).days + 1
    assert summary["postgres_rows"]["climate_data"] == 6 * days  # 6 locations a day, once each

    with (
        embedded_server(str(pipeline_state / "pgdata")) as pipeline_server,
        embedded_server(str(floor_state / "pgdata")) as floor_server,
    ):
        pipeline_dsn = pipeline_server.get_uri(EMBEDDED_DATABASE)
        floor_dsn = floor_server.get_uri(EMBEDDED_DATABASE)
        pipeline_lake, floor_lake = pipeline_state / "lake", floor_state / "lake"
        same = compare_full(pipeline_lake, pipeline_dsn, floor_lake, floor_dsn)
        assert len(same["lake"]) == 4 + 3 * 3 and len(same["postgres"]) == 7
        differing = {
            k: v for k, v in (*same["lake"].items(), *same["postgres"].items()) if not v["equal"]
        }
        assert not differing and same["equal"]
        assert all(v["pipeline_rows"] > 0 for v in same["postgres"].values())

        # The floor drops a column of a table, a table, and a column of a lake output.
        with psycopg.connect(floor_dsn, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {WAREHOUSE_SCHEMA}.hospital_data DROP COLUMN in_flood_zone")
            conn.execute(f"DROP TABLE {WAREHOUSE_SCHEMA}.resilience_scores")
        locations = floor_lake / "processed/locations/part-00000.parquet"
        duckdb.execute(
            f"COPY (SELECT * EXCLUDE (elevation_m) FROM read_parquet('{locations}'))"
            f" TO '{locations}.new' (FORMAT parquet)"
        )
        Path(f"{locations}.new").replace(locations)
        broken = compare_full(pipeline_lake, pipeline_dsn, floor_lake, floor_dsn)

    assert not broken["equal"]
    assert [k for k, v in broken["lake"].items() if not v["equal"]] == ["processed/locations"]
    assert [k for k, v in broken["postgres"].items() if not v["equal"]] == [
        "hospital_data",
        "resilience_scores",
    ]
