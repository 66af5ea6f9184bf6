"""Is the floor's curated output the pipeline's? Row counts, keys and every value, per asset."""

from __future__ import annotations

from pathlib import Path

import duckdb
from climate_glue.contract import DERIVED

TOLERANCE = 1e-9  # unrounded doubles may differ in the last bits between engines


def _scan(root: Path, asset: str) -> str:
    path = str(root / "curated" / asset / "**" / "*.parquet").replace("'", "''")
    return f"read_parquet('{path}', hive_partitioning = true)"


def compare_curated(pipeline_lake: Path, floor_out: Path) -> dict:
    """Per derived asset: rows on each side, keys on one side only, and per column the number
    of rows whose values differ (doubles beyond TOLERANCE, others when not equal)."""
    con = duckdb.connect()
    report = {}
    for spec in DERIVED:
        key = list(spec.key)
        on = " AND ".join(f"p.{k} = f.{k}" for k in key)
        rows_p = con.execute(f"SELECT count(*) FROM {_scan(pipeline_lake, spec.asset)}").fetchone()[
            0
        ]
        rows_f = con.execute(f"SELECT count(*) FROM {_scan(floor_out, spec.asset)}").fetchone()[0]
        only = con.execute(
            f"SELECT count(*) FILTER (WHERE f.{key[0]} IS NULL), count(*) FILTER (WHERE p.{key[0]} IS NULL)"
            f" FROM {_scan(pipeline_lake, spec.asset)} p FULL JOIN {_scan(floor_out, spec.asset)} f ON {on}"
        ).fetchone()
        differs = []
        for column, kind in spec.types.items():
            if column in key:
                continue
            if kind == "double":
                cond = f"NOT (p.{column} IS NULL AND f.{column} IS NULL) AND coalesce(abs(p.{column} - f.{column}) > {TOLERANCE}, true)"
            else:
                cond = f"p.{column} IS DISTINCT FROM f.{column}"
            differs.append(f"count(*) FILTER (WHERE {cond}) AS {column}")
        counts = con.execute(
            f"SELECT {', '.join(differs)} FROM {_scan(pipeline_lake, spec.asset)} p"
            f" JOIN {_scan(floor_out, spec.asset)} f ON {on}"
        ).fetchone()
        names = [c for c in spec.types if c not in key]
        mismatched = {n: c for n, c in zip(names, counts, strict=True) if c}
        report[spec.asset] = {
            "pipeline_rows": rows_p,
            "floor_rows": rows_f,
            "only_in_pipeline": only[0],
            "only_in_floor": only[1],
            "mismatched_values": mismatched,
            "equal": rows_p == rows_f and not only[0] and not only[1] and not mismatched,
        }
    con.close()
    return report
