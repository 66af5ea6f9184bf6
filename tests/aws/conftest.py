"""moto for the AWS tests: a server per module (real boto3 calls over HTTP), and the project's
AWS settings on it."""

from __future__ import annotations

import pytest

from tests.aws_support import (
    AWS_ENV,
    LAKE_BUCKET,
    PIPES_BUCKET,
    SCRIPTS_BUCKET,
    client,
    moto_server,
)


@pytest.fixture(scope="module")
def moto():
    """A moto server, empty, for the module; boto3 is pointed at it while the module runs."""
    with moto_server():
        yield


@pytest.fixture(scope="module")
def aws_settings(moto):
    """moto with the project's AWS settings in the environment (``AWS_ENV``) and their buckets
    made. The RDS secret is each module's own: what it points at differs."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        s3 = client("s3")
        for bucket in (SCRIPTS_BUCKET, LAKE_BUCKET, PIPES_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield
