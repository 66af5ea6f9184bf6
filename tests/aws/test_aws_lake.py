"""S3Lake against moto (server mode, real boto3 calls): the whole Lake protocol on S3."""

from __future__ import annotations

import hashlib

import pytest
from climate_glue.lake import EMPTY_MARKER, S3Lake, open_lake

from tests.aws_support import client

BUCKET = "climate-lake-test"


@pytest.fixture(scope="module")
def s3(moto):
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture
def s3_lake(s3, request):
    return S3Lake(f"s3://{BUCKET}/{request.node.name}/")


def test_open_lake_picks_s3_for_an_s3_root(s3):
    lake = open_lake(f"s3://{BUCKET}/some/prefix/")
    assert isinstance(lake, S3Lake)
    assert lake.root == f"s3://{BUCKET}/some/prefix"
    assert lake.spark_path("raw/climate/date=2024-01-01/a.csv") == (
        f"s3://{BUCKET}/some/prefix/raw/climate/date=2024-01-01/a.csv"
    )


def test_listing_pages_past_a_thousand_keys_with_etags(s3_lake, s3):
    keys = [f"raw/climate/date=2024-01-01/part-{i:04d}.csv" for i in range(1005)]
    for key in keys:
        s3_lake.write_text(key, f"row {key}\n")
    s3_lake.write_text("raw/climate_other/x.csv", "not under the prefix\n")
    assert s3_lake.list_keys("raw/climate") == keys  # 1005 > one page of list_objects_v2
    objects = s3_lake.list_objects("raw/climate/")
    assert [o.key for o in objects] == keys
    first = objects[0]
    assert first.etag == hashlib.md5(f"row {keys[0]}\n".encode()).hexdigest()
    assert first.etag == s3_lake.content_tag(keys[0])
    assert first.size == len(f"row {keys[0]}\n")
    assert s3_lake.list_dirs("raw") == ["climate", "climate_other"]
    assert s3_lake.list_dirs("raw/climate") == ["date=2024-01-01"]


def test_read_write_head_size_exists(s3_lake):
    data = b"location_id,name\n06037,LA\n"
    s3_lake.write_bytes("raw/locations/locations.csv", data)
    assert s3_lake.read_bytes("raw/locations/locations.csv") == data
    assert s3_lake.read_head("raw/locations/locations.csv", 11) == b"location_id"
    assert s3_lake.read_head("raw/locations/locations.csv", 10_000) == data
    s3_lake.write_bytes("empty.csv", b"")
    assert s3_lake.read_head("empty.csv", 100) == b""
    assert s3_lake.size("raw/locations/locations.csv") == len(data)
    assert s3_lake.exists("raw/locations/locations.csv")
    assert s3_lake.exists("raw/locations")  # a prefix with objects under it
    assert not s3_lake.exists("raw/locat")  # not a partial name
    assert not s3_lake.exists("raw/missing")


def test_move_replaces_the_target(s3_lake):
    s3_lake.write_text("raw/health/date=2024-01-01/a.csv", "new")
    s3_lake.write_text("quarantine/raw/health/date=2024-01-01/a.csv", "old")
    s3_lake.move("raw/health/date=2024-01-01/a.csv", "quarantine/raw/health/date=2024-01-01/a.csv")
    assert not s3_lake.exists("raw/health/date=2024-01-01/a.csv")
    assert s3_lake.read_bytes("quarantine/raw/health/date=2024-01-01/a.csv") == b"new"


def test_publish_replaces_the_live_set_and_clears_staging(s3_lake):
    live = "processed/climate_data/year=2024/month=01/day=01"
    staged = "_staging/run1/" + live
    s3_lake.write_text(f"{live}/part-old-1.parquet", "old 1")
    s3_lake.write_text(f"{live}/part-shared.parquet", "old shared")
    s3_lake.write_text(
        "processed/climate_data/year=2024/month=01/day=010/keep.parquet", "other day"
    )
    s3_lake.write_text(f"{staged}/part-new.parquet", "new")
    s3_lake.write_text(f"{staged}/part-shared.parquet", "new shared")
    s3_lake.write_text(f"{staged}/_SUCCESS", "")
    s3_lake.publish(staged, live)
    assert s3_lake.list_keys(live) == [
        f"{live}/_SUCCESS",
        f"{live}/part-new.parquet",
        f"{live}/part-shared.parquet",
    ]
    assert s3_lake.read_bytes(f"{live}/part-shared.parquet") == b"new shared"
    assert not s3_lake.exists(staged)
    # a neighbouring prefix that merely starts with the same characters is untouched
    assert s3_lake.exists("processed/climate_data/year=2024/month=01/day=010/keep.parquet")


def test_an_emptied_partition_publishes_as_a_marker_spark_skips(s3_lake):
    live = "curated/health_risks/year=2024/month=01/day=02"
    s3_lake.write_text(f"{live}/part-old.parquet", "stale rows")
    s3_lake.make_empty(f"_staging/run2/{live}")
    s3_lake.publish(f"_staging/run2/{live}", live)
    assert s3_lake.list_keys(live) == [f"{live}/{EMPTY_MARKER}"]
    assert s3_lake.exists(live)


def test_delete_a_prefix_and_nothing_beside_it(s3_lake):
    for key in ("a/b/1", "a/b/2", "a/bc/3", "a/b"):
        s3_lake.write_text(key, key)
    s3_lake.delete("a/b")
    assert s3_lake.list_keys("a") == ["a/bc/3"]


def test_keys_cannot_escape_the_root(s3_lake):
    with pytest.raises(ValueError, match=r"\.\."):
        s3_lake.read_bytes("../other/secret.csv")
