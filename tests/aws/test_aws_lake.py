"""S3Lake against moto (server mode, real boto3 calls): the whole Lake protocol on S3."""

from __future__ import annotations

import hashlib

import pytest
from climate_glue.lake import EMPTY_MARKER, S3Lake, open_lake

from tests.aws_support import client, moto_server

BUCKET = "climate-lake-test"


@pytest.fixture(scope="module")
def s3():
    with moto_server():
        s3 = client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


@pytest.fixture
def lake(s3, request):
    return S3Lake(f"s3://{BUCKET}/{request.node.name}/")


def test_open_lake_picks_s3_for_an_s3_root(s3):
    lake = open_lake(f"s3://{BUCKET}/some/prefix/")
    assert isinstance(lake, S3Lake)
    assert lake.root == f"s3://{BUCKET}/some/prefix"
    assert lake.spark_path("raw/climate/date=2024-01-01/a.csv") == (
        f"s3://{BUCKET}/some/prefix/raw/climate/date=2024-01-01/a.csv"
    )


def test_listing_pages_past_a_thousand_keys_with_etags(lake, s3):
    keys = [f"raw/climate/date=2024-01-01/part-{i:04d}.csv" for i in range(1005)]
    for key in keys:
        lake.write_text(key, f"row {key}\n")
    lake.write_text("raw/climate_other/x.csv", "not under the prefix\n")
    assert lake.list_keys("raw/climate") == keys  # 1005 > one page of list_objects_v2
    objects = lake.list_objects("raw/climate/")
    assert [o.key for o in objects] == keys
    first = objects[0]
    assert first.etag == hashlib.md5(f"row {keys[0]}\n".encode()).hexdigest()
    assert first.etag == lake.content_tag(keys[0])
    assert first.size == len(f"row {keys[0]}\n")
    assert lake.list_dirs("raw") == ["climate", "climate_other"]
    assert lake.list_dirs("raw/climate") == ["date=2024-01-01"]


def test_read_write_head_size_exists(lake):
    data = b"location_id,name\n06037,LA\n"
    lake.write_bytes("raw/locations/locations.csv", data)
    assert lake.read_bytes("raw/locations/locations.csv") == data
    assert lake.read_head("raw/locations/locations.csv", 11) == b"location_id"
    assert lake.read_head("raw/locations/locations.csv", 10_000) == data
    lake.write_bytes("empty.csv", b"")
    assert lake.read_head("empty.csv", 100) == b""
    assert lake.size("raw/locations/locations.csv") == len(data)
    assert lake.exists("raw/locations/locations.csv")
    assert lake.exists("raw/locations")  # a prefix with objects under it
    assert not lake.exists("raw/locat")  # not a partial name
    assert not lake.exists("raw/missing")


def test_move_replaces_the_target(lake):
    lake.write_text("raw/health/date=2024-01-01/a.csv", "new")
    lake.write_text("quarantine/raw/health/date=2024-01-01/a.csv", "old")
    lake.move("raw/health/date=2024-01-01/a.csv", "quarantine/raw/health/date=2024-01-01/a.csv")
    assert not lake.exists("raw/health/date=2024-01-01/a.csv")
    assert lake.read_bytes("quarantine/raw/health/date=2024-01-01/a.csv") == b"new"


def test_publish_replaces_the_live_set_and_clears_staging(lake):
    live = "processed/climate_data/year=2024/month=01/day=01"
    staged = "_staging/run1/" + live
    lake.write_text(f"{live}/part-old-1.parquet", "old 1")
    lake.write_text(f"{live}/part-shared.parquet", "old shared")
    lake.write_text("processed/climate_data/year=2024/month=01/day=010/keep.parquet", "other day")
    lake.write_text(f"{staged}/part-new.parquet", "new")
    lake.write_text(f"{staged}/part-shared.parquet", "new shared")
    lake.write_text(f"{staged}/_SUCCESS", "")
    lake.publish(staged, live)
    assert lake.list_keys(live) == [
        f"{live}/_SUCCESS",
        f"{live}/part-new.parquet",
        f"{live}/part-shared.parquet",
    ]
    assert lake.read_bytes(f"{live}/part-shared.parquet") == b"new shared"
    assert not lake.exists(staged)
    # a neighbouring prefix that merely starts with the same characters is untouched
    assert lake.exists("processed/climate_data/year=2024/month=01/day=010/keep.parquet")


def test_an_emptied_partition_publishes_as_a_marker_spark_skips(lake):
    live = "curated/health_risks/year=2024/month=01/day=02"
    lake.write_text(f"{live}/part-old.parquet", "stale rows")
    lake.make_empty(f"_staging/run2/{live}")
    lake.publish(f"_staging/run2/{live}", live)
    assert lake.list_keys(live) == [f"{live}/{EMPTY_MARKER}"]
    assert lake.exists(live)


def test_delete_a_prefix_and_nothing_beside_it(lake):
    for key in ("a/b/1", "a/b/2", "a/bc/3", "a/b"):
        lake.write_text(key, key)
    lake.delete("a/b")
    assert lake.list_keys("a") == ["a/bc/3"]


def test_keys_cannot_escape_the_root(lake):
    with pytest.raises(ValueError, match=r"\.\."):
        lake.read_bytes("../other/secret.csv")
