"""A moto server (real boto3 calls over HTTP) for the AWS tests, and the environment to use it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
SCRIPTS_BUCKET = "climate-scripts"
LAKE_BUCKET = "climate-lake"
PIPES_BUCKET = "climate-pipes"
SECRET_ID = "climate/rds"
# The project's AWS settings on moto, as ``climate-assets env`` exports them from a stack (the
# ``aws_settings`` fixture of tests/aws/conftest.py sets them and makes the buckets).
AWS_ENV = {
    "CLIMATE_SCRIPTS_BUCKET": SCRIPTS_BUCKET,
    "CLIMATE_LAKE_BUCKET": LAKE_BUCKET,
    "CLIMATE_PIPES_BUCKET": PIPES_BUCKET,
    "CLIMATE_RDS_SECRET_ID": SECRET_ID,
    "CLIMATE_GLUE_CONNECTION": "climate-rds",
    "CLIMATE_GLUE_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/climate-glue",
    "CLIMATE_ATHENA_RESULTS": f"s3://{PIPES_BUCKET}/athena-results/",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto in server mode on a free port; point boto3 at it through the environment
    (fake credentials, ``AWS_ENDPOINT_URL``) for as long as the context lasts."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    _reset(endpoint)  # moto's state lives in the process: start every server empty
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def _reset(endpoint: str) -> None:
    from urllib.request import Request, urlopen

    with urlopen(Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30):
        pass


def client(service: str):
    import boto3

    return boto3.client(service, region_name=REGION)
