"""The one way the project builds a boto3 client (the jobs and the code location alike):
botocore's standard retry mode.

Standard mode retries throttling and transient errors (and ``ThrottlingException`` from
CloudWatch Logs, SNS, Glue and Athena alike) with exponential backoff and jitter, so no caller
writes its own retry loop.
"""

from __future__ import annotations

MAX_ATTEMPTS = 10  # the first call and up to nine retries


def aws_client(service: str, region: str | None = None, *, endpoint_url: str | None = None):
    """A boto3 client for ``service`` with standard retries; ``region`` None: the AWS chain's."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=region or None,
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}),
    )
