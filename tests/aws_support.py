"""A moto server (real boto3 calls over HTTP) for the AWS tests, and the environment to use it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account


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
