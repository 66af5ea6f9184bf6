"""``climate-assets export``: one file (CSV, JSON or Parquet) of an asset for a range of days.

Reads the asset's published lake Parquet (``curated/<asset>/`` or ``processed/<asset>/``, Hive
partitioned ``year=/month=/day=``) with DuckDB and writes one file. Health counts of 1..10, and
the rate computed from them, are suppressed as in the shared exports (contract section 4, the
asset's ``suppress`` rule in ``climate_glue.contract``: null, with ``suppressed = true`` on the row);
``--internal`` keeps the true counts where the asset allows internal use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from climate_glue import contract, logic
from climate_glue.contract import (
    CURATED_PREFIX,
    PROCESSED_PREFIX,
    hive_partition,
)
from climate_glue.engines.duck import to_duckdb
from climate_glue.lake import Lake

from climate_assets.partitions import days_of
from climate_assets.settings import Settings

FORMATS = ("csv", "json", "parquet")
COPY_OPTIONS = {  # DuckDB's COPY ... TO options per format
    "csv": "FORMAT csv, HEADER true",
    "json": "FORMAT json, ARRAY true",
    "parquet": "FORMAT parquet",
}


@dataclass(frozen=True)
class ExportSpec:
    """Where an asset's export reads, and whether ``--internal`` may keep its true counts."""

    asset: str
    layer: str
    internal_allowed: bool

    @property
    def counts(self) -> dict[str, tuple[str, ...]]:
        """What the export suppresses: the asset's privacy rule in the contract (section 4),
        count column -> the columns computed from it."""
        return contract.ASSETS[self.asset].suppress


EXPORTS = {
    spec.asset: spec
    for spec in (
        # Derived: the same rule as the shared CSV/JSON exports; analysts may take true counts.
        ExportSpec("health_risks", CURATED_PREFIX, True),
        ExportSpec("hospital_resources", CURATED_PREFIX, True),
        ExportSpec("resilience_scores", CURATED_PREFIX, True),
        # Processed: per-category counts per location and day, the finest grain there is: only
        # ever exported suppressed (internal users read PostgreSQL).
        ExportSpec("health_data", PROCESSED_PREFIX, False),
        ExportSpec("climate_data", PROCESSED_PREFIX, True),
        ExportSpec("hospital_data", PROCESSED_PREFIX, True),
        ExportSpec("locations", PROCESSED_PREFIX, True),
    )
}


class ExportError(RuntimeError):
    pass


@dataclass(frozen=True)
class Export:
    path: Path
    rows: int
    days: list[date]
    suppressed_rows: int | None  # None: --internal, true counts

    def summary(self) -> str:
        privacy = (
            "true counts (--internal)"
            if self.suppressed_rows is None
            else f"{self.suppressed_rows:,} row(s) with small counts suppressed"
        )
        return (
            f"Wrote {self.rows:,} rows for {self.days[0]} .. {self.days[-1]} "
            f"({len(self.days)} day(s)) to {self.path}; {privacy}"
        )


def _day_prefix(spec: ExportSpec, day: date) -> str:
    return f"{spec.layer}/{spec.asset}/{hive_partition(day)}"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_spec(asset: str, fmt: str, start: date, end: date, internal: bool) -> ExportSpec:
    """The asset's export spec, once the request is one that can be exported."""
    if asset not in EXPORTS:
        raise ExportError(f"no asset {asset!r} to export; known: {', '.join(EXPORTS)}")
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if end < start:
        raise ExportError(f"--to {end} is before --from {start}")
    spec = EXPORTS[asset]
    if internal and not spec.internal_allowed:
        raise ExportError(
            f"{asset} may not be exported with true small counts (--internal); "
            "read them from PostgreSQL or export without --internal"
        )
    return spec


def published_days(spec: ExportSpec, lake: Lake, root: str, start: date, end: date) -> list[date]:
    """Every day of start..end, when the lake has each one of the asset's; else why not."""
    asset = spec.asset
    days = days_of(start, end)
    present = [d for d in days if lake.list_keys(_day_prefix(spec, d))]
    if not present:
        raise ExportError(
            f"no data for {asset} from {start} to {end} under {root}/{spec.layer}/{asset}/: "
            "materialize those days first (climate-assets materialize "
            f"--select {asset} --from {start} --to {end})"
        )
    missing = [d for d in days if d not in present]
    if missing:
        listed = ", ".join(d.isoformat() for d in missing)
        raise ExportError(
            f"{asset} has no data for {len(missing)} day(s) of {start} .. {end}: {listed}; "
            "materialize them, or export the days on either side separately"
        )
    return days


def _copy(con, spec: ExportSpec, sources: list[str], fmt: str, output: Path, internal: bool):
    """Write the export with DuckDB's COPY: (rows written, rows suppressed or None)."""
    files = "[" + ", ".join(_sql_string(s) for s in sources) + "]"
    con.execute(
        f"CREATE TEMP VIEW source AS SELECT * EXCLUDE (year, month, day) "
        f"FROM read_parquet({files}, hive_partitioning = true, union_by_name = true)"
    )
    columns = [row[0] for row in con.execute("DESCRIBE source").fetchall()]
    columns = [c for c in columns if c != "suppressed" or not spec.counts]
    suppressed_rows = None
    if spec.counts and not internal:
        # The shared exports' own rule, in the job library's SQL (Spark SQL, turned into DuckDB's).
        shown = to_duckdb(logic.suppress_small_counts("source", columns, spec.counts))
        con.execute(f"CREATE TEMP VIEW shown AS {shown}")
        suppressed_rows = con.execute("SELECT count(*) FROM shown WHERE suppressed").fetchone()[0]
        relation = "shown"
    else:
        relation = "source"
    order = [c for c in ("date", "location_id", "hospital_id") if c in columns]
    query = f"SELECT * FROM {relation}" + (f" ORDER BY {', '.join(order)}" if order else "")
    output.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({query}) TO {_sql_string(str(output))} ({COPY_OPTIONS[fmt]})")
    rows = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
    return rows, suppressed_rows


def export(
    settings: Settings,
    asset: str,
    start: date,
    end: date,
    fmt: str,
    output: Path,
    internal: bool = False,
) -> Export:
    import duckdb

    from climate_assets.environments import resources_for

    spec = export_spec(asset, fmt, start, end, internal)
    lake_resource = resources_for(settings)["lake"].process_config_and_initialize()
    root = lake_resource.root_uri().rstrip("/")
    if asset == "locations":
        days = []
        sources = [f"{root}/{spec.layer}/{asset}/**/*.parquet"]
    else:
        days = published_days(spec, lake_resource.open(), root, start, end)
        sources = [f"{root}/{_day_prefix(spec, d)}/*.parquet" for d in days]
    con = duckdb.connect()
    try:
        if root.startswith("s3://"):
            con.execute("INSTALL httpfs; LOAD httpfs;")
            con.execute("CREATE SECRET lake (TYPE s3, PROVIDER credential_chain)")
        rows, suppressed_rows = _copy(con, spec, sources, fmt, output, internal)
    finally:
        con.close()
    return Export(
        path=output, rows=rows, days=days or [start, end], suppressed_rows=suppressed_rows
    )
