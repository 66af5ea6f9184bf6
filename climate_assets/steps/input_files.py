"""Which raw files a materialization consumed, in which content.

A processed asset lists its partitions' landing files (``raw/<dataset>/date=<day>/``, or
``raw/locations/``) with the lake resource before launching its job and records them in its
materialization's metadata as ``input_files`` (key -> content tag: the S3 ETag, or the MD5
locally, as the arrival sensors compute it). An arrival sensor's first tick reads them back, so a
sensor started on a lake that was already processed requests only what no run has consumed.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from climate_glue.contract import RAW_PREFIX, Dataset, date_partition
from climate_glue.lake import Lake

INPUT_FILES = "input_files"  # materialization metadata: {raw key: content tag}
PAGE = 1000


def input_files(lake: Lake, dataset: Dataset, days: Sequence[str] | None = None) -> dict[str, str]:
    """Landing files of ``dataset`` for ``days`` (partition keys; all of them for locations) and
    their content tags; dot files (uploads in flight) are not inputs."""
    if dataset.daily and days is not None:
        prefixes = [f"{RAW_PREFIX}/{dataset.name}/{date_partition(day)}/" for day in days]
    else:
        prefixes = [f"{RAW_PREFIX}/{dataset.name}/"]
    files = {}
    for prefix in prefixes:
        for obj in lake.list_objects(prefix):
            name = obj.key.rsplit("/", 1)[-1]
            if obj.key.endswith("/") or name.startswith("."):
                continue
            files[obj.key] = obj.etag or lake.content_tag(obj.key)
    return files


def consumed_files(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> dict[str, str]:
    """Raw key -> content tag that the latest materialization of each partition consumed.

    Reads the asset's materializations newest first, a page at a time, and takes the
    ``input_files`` of the first one seen per partition (a range run records the same files on
    each of its days: each day keeps its own keys only when it is the newest for them).
    """
    consumed: dict[str, str] = {}
    seen_partitions: set[str | None] = set()
    decided: set[str] = set()
    cursor = None
    while True:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key), limit=PAGE, cursor=cursor, ascending=False
        )
        for record in result.records:
            partition = record.partition_key
            if partition in seen_partitions:
                continue
            seen_partitions.add(partition)
            value = record.asset_materialization.metadata.get(INPUT_FILES)
            files = value.value if value is not None else {}
            for key, tag in files.items():
                if key in decided:
                    continue
                # A daily file belongs to the partition of its date folder.
                if partition is None or f"/{date_partition(partition)}/" in key:
                    consumed[key] = tag
                    decided.add(key)
        if not result.has_more:
            return consumed
        cursor = result.cursor
