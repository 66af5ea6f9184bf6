"""The DuckDB engine's one-day write (straight into the day's folder) lays out exactly what its
partitioned writer does for several days: the same files, columns and rows."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from climate_glue.lake import LocalLake
from climate_glue.publish import stage

DAY, OTHER = date(2024, 7, 1), date(2024, 7, 2)
READERS = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}
ROWS = (
    "SELECT CAST(i AS BIGINT) AS id, DATE '2024-07-01' AS `date`, concat('a,\"b', i) AS s,"
    " CAST(NULL AS DOUBLE) AS n, TIMESTAMP '2024-07-01 01:02:03.5' AS ts FROM range(3000) AS r(i)"
)


def _files(lake: LocalLake, prefix: str) -> dict[str, str]:
    """Each file under ``prefix`` by its path below it."""
    root = lake.path(prefix)
    return {str(p.relative_to(root)): str(p) for p in sorted(root.rglob("*")) if p.is_file()}


def _content(path: str, fmt: str) -> tuple[list, list]:
    """A file's columns (name and type, as DuckDB reads them) and its rows, sorted."""
    con = duckdb.connect()
    source = f"{READERS[fmt]}('{path}', hive_partitioning = false)"
    columns = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return columns, sorted(con.execute(f"SELECT * FROM {source}").fetchall())


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
@pytest.mark.parametrize("layout", ["hive", "date"])
def test_a_one_day_write_lays_out_what_the_partitioned_writer_does(
    engine, tmp_path, fmt: str, layout: str
) -> None:
    lake = LocalLake(tmp_path)
    frame = engine.sql(ROWS)
    one = stage(engine, lake, frame, "one", "out", fmt, [DAY], layout)
    two = stage(engine, lake, frame, "two", "out", fmt, [DAY, OTHER], layout)  # partitioned

    one_files, two_files = _files(lake, one.staged), _files(lake, two.staged)
    assert list(one_files) == list(two_files)
    assert len(one_files) == 1
    columns, rows = _content(one_files.popitem()[1], fmt)
    assert (columns, rows) == _content(two_files.popitem()[1], fmt)
    assert "year" not in {c[0] for c in columns}  # the partition columns stay out of the file
    assert len(rows) == 3000


def test_a_one_day_write_without_rows_makes_no_day_folder(engine, tmp_path) -> None:
    lake = LocalLake(tmp_path)
    frame = engine.sql(f"{ROWS} WHERE FALSE")
    for days in ([DAY], [DAY, OTHER]):
        staged = stage(engine, lake, frame, f"run{len(days)}", "out", "csv", days)
        assert lake.exists(staged.staged)
        assert list(lake.path(staged.staged).iterdir()) == []
