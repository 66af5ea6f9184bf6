"""Is a floor's output the pipeline's? The curated floor: row counts, keys and every value of the
curated Parquet, per asset; the full floor: every output, files, columns, rows and values."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import psycopg
from climate_glue.contract import (
    CURATED_PREFIX,
    DERIVED,
    EXPORTS_PREFIX,
    PROCESSED_PREFIX,
    RAW_DATASETS,
    WAREHOUSE_SCHEMA,
)
from psycopg import sql

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


# --- the full-output floor: every output, value by value ------------------------------------

RUN_OWN = ("_processed_at", "_run_id")  # lineage each run stamps its own


def _folders(lake: Path, prefix: str, fmt: str) -> list[str]:
    """The folders that hold the output's files (file names are each writer's own)."""
    base = lake / prefix
    return sorted({p.parent.relative_to(base).as_posix() for p in base.rglob(f"*.{fmt}")})


def _reader(lake: Path, prefix: str, fmt: str) -> str:
    path = str(lake / prefix / "**" / f"*.{fmt}").replace("'", "''")
    if fmt == "parquet":
        return f"read_parquet('{path}', hive_partitioning = false)"
    if fmt == "csv":  # as text: a value written differently differs
        return f"read_csv('{path}', header = true, all_varchar = true, hive_partitioning = false)"
    return f"read_json('{path}', format = 'newline_delimited', hive_partitioning = false)"


def _lake_output(con, pipeline: Path, floor: Path, prefix: str, fmt: str) -> dict:
    """Folders, columns (names and types), rows, and rows on one side only (every column but
    RUN_OWN, duplicates counted) of one lake output."""
    folders = _folders(pipeline, prefix, fmt)
    found = {"folders": len(folders), "same_folders": folders == _folders(floor, prefix, fmt)}
    if not folders or not _folders(floor, prefix, fmt):
        return {**found, "missing": True, "equal": False}
    p, f = _reader(pipeline, prefix, fmt), _reader(floor, prefix, fmt)

    def described(source: str) -> list[tuple]:  # the JSON reader guesses RUN_OWN's types
        rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        return [(r[0], None if r[0] in RUN_OWN else r[1]) for r in rows]

    columns = described(p)
    found["columns"] = columns == described(f)
    if not found["columns"]:  # a column missing, added or retyped: no value compares
        return {**found, "equal": False}
    shown = ", ".join(f'"{c}"' for c, _ in columns if c not in RUN_OWN)
    found["pipeline_rows"] = con.execute(f"SELECT count(*) FROM {p}").fetchone()[0]
    found["floor_rows"] = con.execute(f"SELECT count(*) FROM {f}").fetchone()[0]
    for side, (a, b) in {"only_in_pipeline": (p, f), "only_in_floor": (f, p)}.items():
        found[side] = con.execute(
            f"SELECT count(*) FROM (SELECT {shown} FROM {a} EXCEPT ALL SELECT {shown} FROM {b})"
        ).fetchone()[0]
    found["equal"] = (
        found["same_folders"]
        and found["columns"]
        and found["pipeline_rows"] == found["floor_rows"]
        and not found["only_in_pipeline"]
        and not found["only_in_floor"]
    )
    return found


def _table_digest(dsn: str, table: str, key: tuple[str, ...]) -> tuple[list, int, str]:
    """A PostgreSQL table's columns (name, type), rows, and a digest of its rows as text, in
    key order, every column but RUN_OWN (None, 0, '' when there is no such table)."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (WAREHOUSE_SCHEMA, table),
        ).fetchall()
        if not columns:
            return None, 0, ""
        shown = [c for c, _ in columns if c not in RUN_OWN]
        query = sql.SQL("COPY (SELECT {} FROM {}.{} ORDER BY {}) TO STDOUT").format(
            sql.SQL(", ").join(map(sql.Identifier, shown)),
            sql.Identifier(WAREHOUSE_SCHEMA),
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, key)),
        )
        digest, rows = hashlib.sha256(), 0
        with conn.cursor().copy(query) as copy_out:
            for block in copy_out:
                digest.update(block)
                rows += bytes(block).count(b"\n")
    return [list(c) for c in columns], rows, digest.hexdigest()


def compare_full(pipeline_lake: Path, pipeline_dsn: str, floor_lake: Path, floor_dsn: str) -> dict:
    """Every output of the pipeline against the full floor's: the processed and curated Parquet,
    the CSV and JSON exports (folders, columns, rows and values) and the seven PostgreSQL tables
    (columns, rows and values); the run's own lineage (RUN_OWN) aside. ``equal``: all of it."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    lake = {}
    for dataset in RAW_DATASETS.values():
        prefix = f"{PROCESSED_PREFIX}/{dataset.asset}"
        lake[prefix] = _lake_output(con, pipeline_lake, floor_lake, prefix, "parquet")
    for spec in DERIVED:
        prefix = f"{CURATED_PREFIX}/{spec.asset}"
        lake[prefix] = _lake_output(con, pipeline_lake, floor_lake, prefix, "parquet")
        for fmt in ("csv", "json"):
            prefix = f"{EXPORTS_PREFIX}/{fmt}/{spec.asset}"
            lake[prefix] = _lake_output(con, pipeline_lake, floor_lake, prefix, fmt)
    con.close()
    postgres = {}
    for spec in (*RAW_DATASETS.values(), *DERIVED):
        p_columns, p_rows, p_digest = _table_digest(pipeline_dsn, spec.asset, spec.key)
        f_columns, f_rows, f_digest = _table_digest(floor_dsn, spec.asset, spec.key)
        postgres[spec.asset] = {
            "pipeline_rows": p_rows,
            "floor_rows": f_rows,
            "columns": p_columns is not None and p_columns == f_columns,
            "values": p_digest == f_digest,
            "equal": p_columns is not None and p_columns == f_columns and p_digest == f_digest,
        }
    return {
        "lake": lake,
        "postgres": postgres,
        "equal": all(x["equal"] for x in (*lake.values(), *postgres.values())),
    }
