"""The lake: the landing zone, processed, curated, exports, rejects and quarantine."""

from __future__ import annotations

import dagster as dg
from climate_glue.aws import aws_client
from climate_glue.lake import Lake, LocalLake, S3Lake


class LakeResource(dg.ConfigurableResource):
    """The lake as jobs and sensors see it. Code that uses it never asks which kind it has."""

    def root_uri(self) -> str:
        """The root passed to Glue jobs as ``--lake-root``."""
        raise NotImplementedError

    def open(self) -> Lake:
        raise NotImplementedError


class LocalLakeResource(LakeResource):
    """A lake in a local folder (the embedded default)."""

    root: str

    def root_uri(self) -> str:
        return LocalLake(self.root).root

    def open(self) -> Lake:
        return LocalLake(self.root)


class S3LakeResource(LakeResource):
    """A lake under an S3 prefix (AWS). Glue's Spark reads and writes it as ``s3://``."""

    bucket: str
    prefix: str = ""

    def root_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}".rstrip("/")

    def open(self) -> Lake:
        return S3Lake(self.root_uri(), client=aws_client("s3"))
