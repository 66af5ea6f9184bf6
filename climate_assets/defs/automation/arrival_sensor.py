"""The arrival sensor: one sensor over the landing zone, watching each raw dataset's prefix
through the lake resource.

A tick lists ``raw/<dataset>/`` for every dataset (a local folder walk or an S3 paginated
listing, behind ``Lake.list_objects``) and compares it with the cursor, a compact JSON of what
the last tick saw (per file: size, modification time, content tag). Only files whose size or time
changed get their content tag computed (the S3 ETag is free; locally the MD5 is read), so a tick
over thousands of unchanged files reads none of them. A file counts as changed when its tag
differs: a duplicate drop (same bytes again) makes no run, a changed file does.

Changed files of one tick make one run per contiguous range of days with the same datasets
changed (the assets have a single-run backfill policy, so a range is one Glue job per asset):
a day's climate, health and hospital files dropped together are one run. That run also computes
the day's derived metrics when every input of every day in it will then be there (the datasets
it does not process already materialized, locations too); otherwise the automation sensor
requests them once the inputs are complete. Locations, which have no days, are a run of their
own. Each run has a ``run_key`` from the sorted (key, tag) pairs of its files. A key outside the
contract's landing layout, and an entry that is not a regular file (a symbolic link is moved as
itself, never followed), is moved to quarantine with its reason, and the tick says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
from climate_glue.contract import RAW_DATASETS, RAW_PREFIX, Dataset
from climate_glue.lake import Lake, LakeObject
from climate_glue.quarantine import quarantine
from climate_glue.raw import DATE_FOLDER

from climate_assets.constants import DERIVED_ASSETS, LOCATIONS
from climate_assets.partitions import range_tags, stretches
from climate_assets.resources.lake import LakeResource
from climate_assets.steps.input_files import consumed_files

CSV_SUFFIX = ".csv"
CURSOR_VERSION = 1
SENSOR_CURSOR_VERSION = 2  # {"v": 2, "datasets": {name: a dataset's cursor (version 1)}}
# Per file in the cursor: [size, modified, tag].
Seen = dict[str, list]
ARRIVAL_SENSOR = "landing_arrival_sensor"
# Run tag of the arrival sensor's runs: the datasets they process, joined by "+". The daemon
# runs one run per value at a time (dagster.yaml); pools keep each Glue job to one step at a time.
DATASETS_TAG = "climate/datasets"


def dataset_prefix(dataset: Dataset) -> str:
    return f"{RAW_PREFIX}/{dataset.name}"


def layout_problem(dataset: Dataset, key: str) -> str | None:
    """Why ``key`` breaks the contract's landing layout for ``dataset`` (section 1), or None."""
    prefix = dataset_prefix(dataset) + "/"
    layout = f"{prefix}date=YYYY-MM-DD/<name>.csv" if dataset.daily else f"{prefix}<name>.csv"
    parts = key.split("/")
    if ".." in parts:
        return f"'..' in the key; expected {layout}"
    rest = key[len(prefix) :].split("/")
    if not rest[-1].lower().endswith(CSV_SUFFIX):
        return f"not a .csv file; expected {layout}"
    if not dataset.daily:
        return None if len(rest) == 1 else f"nested too deep; expected {layout}"
    if len(rest) == 1:
        return f"not in a date=YYYY-MM-DD folder; expected {layout}"
    match = DATE_FOLDER.match(rest[0])
    if match is None:
        return f"folder {rest[0]!r} is not date=YYYY-MM-DD; expected {layout}"
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return f"{match.group(1)} is not a calendar date; expected {layout}"
    if len(rest) > 2:
        return f"nested too deep; expected {layout}"
    return None


def partition_of(dataset: Dataset, key: str) -> str | None:
    """The partition date of a well-formed daily key, None for locations."""
    if not dataset.daily:
        return None
    return key[len(dataset_prefix(dataset)) + 1 :].split("/")[0][len("date=") :]


def is_in_flight(key: str) -> bool:
    """A file still being written (a dot file, such as the lake's ``.name.partial``) or a folder
    marker: not a landing file yet, neither processed nor quarantined."""
    return key.endswith("/") or key.rsplit("/", 1)[-1].startswith(".")


# The cursor: {"v": 1, "files": {folder: {file name: [size, modified, tag]}}}, folders relative
# to the dataset prefix, so ten thousand keys cost little more than their names and tags.
def load_cursor(cursor: str | None) -> Seen:
    """Key -> [size, modified, tag] from a cursor string (empty for a first tick)."""
    if not cursor:
        return {}
    data = json.loads(cursor)
    base = data["prefix"]
    seen: Seen = {}
    for folder, files in data["files"].items():
        for name, entry in files.items():
            seen["/".join(p for p in (base, folder, name) if p)] = entry
    return seen


def dump_cursor(dataset: Dataset, seen: Seen) -> str:
    base = dataset_prefix(dataset)
    folders: dict[str, dict[str, list]] = {}
    for key in sorted(seen):
        folder, _, name = key[len(base) + 1 :].rpartition("/")
        folders.setdefault(folder, {})[name] = seen[key]
    return json.dumps(
        {"v": CURSOR_VERSION, "prefix": base, "files": folders}, separators=(",", ":")
    )


@dataclass
class Batch:
    """Changed files that make one run: a contiguous day range (or locations)."""

    start: str | None
    end: str | None
    files: list[tuple[str, str]]  # (key, tag), sorted
    datasets: tuple[str, ...] = ()  # the raw datasets whose files these are, sorted

    @property
    def run_key(self) -> str:
        digest = hashlib.sha256()
        for key, tag in self.files:
            digest.update(f"{key}\0{tag}\n".encode())
        span = f"{self.start}..{self.end}" if self.start else "all"
        return f"{span}:{digest.hexdigest()[:32]}"


@dataclass
class Scan:
    """What one tick found: run batches, quarantined keys, keys waiting, and the new cursor."""

    batches: list[Batch] = field(default_factory=list)
    changed: dict[str | None, list[tuple[str, str]]] = field(default_factory=dict)  # by day
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    waiting: list[str] = field(default_factory=list)  # a day outside the partitions (yet)
    unchanged: int = 0
    tags_computed: int = 0
    cursor: str = ""


def _quarantine(lake: Lake, key: str, problem: str, moved_by: str, scan: Scan) -> None:
    try:
        quarantine(lake, key, problem, moved_by)
    except (OSError, ValueError) as exc:
        problem = f"{problem} (could not move it to quarantine: {exc})"
    scan.quarantined.append((key, problem))


def scan_landing(
    lake: Lake,
    dataset: Dataset,
    cursor: str | None,
    first_day: str | None = None,
    last_day: str | None = None,
    moved_by: str = "arrival sensor",
) -> Scan:
    """One tick's work for ``dataset``: list, compare with the cursor, quarantine, batch.

    ``first_day``/``last_day`` bound the partitions that exist; a file for a later day (today's,
    say) waits, unrecorded, until its partition exists. This is the function a benchmark times.
    """
    previous = load_cursor(cursor)
    scan = Scan()
    seen: Seen = {}
    changed: dict[str | None, list[tuple[str, str]]] = {}
    listing = lake.listing(dataset_prefix(dataset) + "/")
    for stray in listing.strays:  # a link or special file: moved as itself, never followed
        _quarantine(lake, stray.key, stray.reason, moved_by, scan)
    objects: list[LakeObject] = listing.objects
    for obj in objects:
        key = obj.key
        if is_in_flight(key):
            continue
        problem = layout_problem(dataset, key)
        if problem is not None:
            _quarantine(lake, key, problem, moved_by, scan)
            continue
        day = partition_of(dataset, key)
        if day is not None and (
            (first_day is not None and day < first_day) or (last_day is not None and day > last_day)
        ):
            scan.waiting.append(key)
            continue
        before = previous.get(key)
        if before is not None and before[0] == obj.size and before[1] == obj.modified:
            seen[key] = before
            scan.unchanged += 1
            continue
        tag = obj.etag or lake.content_tag(key)
        scan.tags_computed += 1
        seen[key] = [obj.size, obj.modified, tag]
        if before is not None and before[2] == tag:
            scan.unchanged += 1  # touched, or dropped again with the same bytes
            continue
        changed.setdefault(day, []).append((key, tag))
    names = (dataset.name,)
    if dataset.daily:
        for start, end in stretches(d for d in changed if d is not None):
            in_range = [f for d, fs in changed.items() if d and start <= d <= end for f in fs]
            scan.batches.append(Batch(start, end, sorted(in_range), names))
    elif changed:
        files = sorted(f for fs in changed.values() for f in fs)
        scan.batches.append(Batch(None, None, files, names))
    scan.changed = changed
    scan.cursor = dump_cursor(dataset, seen)
    return scan


def combined_batches(scans: dict[Dataset, Scan]) -> list[Batch]:
    """One batch per contiguous range of days with the same datasets changed; locations (no
    days) one of their own. A day dropped whole (climate, health, hospital) is one batch."""
    batches = [b for dataset, scan in scans.items() if not dataset.daily for b in scan.batches]
    by_day: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for dataset, scan in scans.items():
        if dataset.daily:
            for day, files in scan.changed.items():
                by_day.setdefault(day, {})[dataset.name] = files
    days_of: dict[tuple[str, ...], list[str]] = {}
    for day, files_by_dataset in by_day.items():
        days_of.setdefault(tuple(sorted(files_by_dataset)), []).append(day)
    for names, days in days_of.items():
        for start, end in stretches(days):
            files = [f for d in days if start <= d <= end for fs in by_day[d].values() for f in fs]
            batches.append(Batch(start, end, sorted(files), names))
    return sorted(batches, key=lambda b: (b.start or "", b.datasets))


def seeded_cursor(dataset: Dataset, consumed: dict[str, str]) -> str | None:
    """A first tick's cursor from what materializations consumed (key -> content tag).

    Size and time are unknown (-1), so the tick computes each file's tag and treats a file as
    unchanged exactly when its tag is the one a materialization recorded.
    """
    prefix = dataset_prefix(dataset) + "/"
    seen = {key: [-1, -1, tag] for key, tag in consumed.items() if key.startswith(prefix)}
    return dump_cursor(dataset, seen) if seen else None


def skip_message(dataset: Dataset, scan: Scan) -> str:
    """Why a tick ran nothing (or what else it did), in one line for the tick log."""
    parts = [
        f"no new or changed files under {dataset_prefix(dataset)}/ ({scan.unchanged} unchanged)"
    ]
    if scan.quarantined:
        shown = "; ".join(f"{key}: {reason}" for key, reason in scan.quarantined[:5])
        more = len(scan.quarantined) - 5
        parts.append(
            f"moved {len(scan.quarantined)} key(s) to quarantine: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    if scan.waiting:
        parts.append(
            f"{len(scan.waiting)} file(s) for a day outside the partitions wait: "
            + ", ".join(scan.waiting[:3])
        )
    return "; ".join(parts)


def load_sensor_cursor(cursor: str | None) -> dict[str, str | None]:
    """Dataset name -> that dataset's cursor string (None: that dataset's first tick)."""
    if not cursor:
        return {}
    data = json.loads(cursor)
    return {name: json.dumps(value) for name, value in data["datasets"].items()}


def dump_sensor_cursor(cursors: dict[str, str]) -> str:
    datasets = {name: json.loads(value) for name, value in cursors.items()}
    return json.dumps({"v": SENSOR_CURSOR_VERSION, "datasets": datasets}, separators=(",", ":"))


def inputs_complete(
    instance: dg.DagsterInstance, batch: Batch, partitions_def: dg.TimeWindowPartitionsDefinition
) -> bool:
    """Whether every input of the derived metrics is there for every day of ``batch`` once its
    run has processed it: the daily datasets it does not process already materialized for those
    days, and locations materialized."""
    if batch.start is None or instance.get_latest_materialization_event(LOCATIONS) is None:
        return False
    days = partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(batch.start, batch.end))
    for dataset in RAW_DATASETS.values():
        if not dataset.daily or dataset.name in batch.datasets:
            continue
        key = dg.AssetKey(dataset.asset)
        status = instance.get_status_by_partition(key, days, partitions_def) or {}
        if any(status.get(day) != dg.AssetPartitionStatus.MATERIALIZED for day in days):
            return False
    return True


def run_request(batch: Batch, with_derived: bool) -> dg.RunRequest:
    """The run of one batch: its datasets' processed assets (and the derived metrics)."""
    assets = [dg.AssetKey(RAW_DATASETS[name].asset) for name in batch.datasets]
    if with_derived:
        assets += DERIVED_ASSETS
    tags = {"climate/arrival_files": str(len(batch.files)), DATASETS_TAG: "+".join(batch.datasets)}
    if batch.start is not None:
        tags.update(range_tags(batch.start, batch.end))
    return dg.RunRequest(run_key=batch.run_key, asset_selection=assets, tags=tags)


def scan_all(
    context: dg.SensorEvaluationContext,
    lake: Lake,
    datasets: list[Dataset],
    partitions_def: dg.TimeWindowPartitionsDefinition,
    name: str,
) -> dict[Dataset, Scan]:
    """Each dataset's scan from its part of the cursor; a dataset without one (the first tick)
    starts from what materializations already consumed."""
    first = partitions_def.get_first_partition_key()
    last = partitions_def.get_last_partition_key()
    cursors = load_sensor_cursor(context.cursor)
    scans = {}
    for dataset in datasets:
        cursor = cursors.get(dataset.name)
        if cursor is None:
            asset = dg.AssetKey(dataset.asset)
            cursor = seeded_cursor(dataset, consumed_files(context.instance, asset))
        bounds = (first, last) if dataset.daily else (None, None)
        scan = scan_landing(lake, dataset, cursor, *bounds, moved_by=f"sensor {name}")
        for key, reason in scan.quarantined:
            context.log.warning(f"quarantined {key}: {reason}")
        scans[dataset] = scan
    return scans


def arrival_sensor(
    partitions_def: dg.TimeWindowPartitionsDefinition,
    interval_seconds: int,
    datasets: Iterable[Dataset] = tuple(RAW_DATASETS.values()),
) -> dg.SensorDefinition:
    """The sensor over the landing zone of ``datasets`` (all four raw datasets by default)."""
    datasets = list(datasets)
    daily = [d for d in datasets if d.daily]
    targets = [dg.AssetKey(d.asset) for d in datasets] + (list(DERIVED_ASSETS) if daily else [])

    @dg.sensor(
        name=ARRIVAL_SENSOR,
        target=targets,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Materializes the processed datasets whose files landed under raw/ (new or"
        " changed content), one run per range of days, with the derived metrics of days whose"
        " inputs are then complete; quarantines keys outside the layout.",
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
        first_tick = not context.cursor
        scans = scan_all(context, lake.open(), datasets, partitions_def, ARRIVAL_SENSOR)
        cursor = dump_sensor_cursor({d.name: scan.cursor for d, scan in scans.items()})
        requests = [
            run_request(b, bool(daily) and inputs_complete(context.instance, b, partitions_def))
            for b in combined_batches(scans)
        ]
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        reason = "; ".join(skip_message(d, scan) for d, scan in scans.items())
        if first_tick:
            done = sum(scan.unchanged for scan in scans.values())
            reason = f"first tick: {done} file(s) already processed; {reason}"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)

    return _sensor
