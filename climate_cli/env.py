"""``climate-assets env --stack NAME``: the environment variables of a deployed stack.

Reads the outputs of an environment's CloudFormation stack (``infra/climate-assets.yaml``) and
prints one ``export NAME=value`` line per variable the stack provides (``STACK_VARIABLES`` in
settings.py), so ``eval "$(climate-assets env --stack climate-assets-dev)"`` sets up a shell for
``deploy``, ``dev`` and the rest. An output's key is its variable in CamelCase:
``ClimateLakeBucket`` is ``CLIMATE_LAKE_BUCKET``, ``AwsRegion`` is ``AWS_REGION``.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
from typing import Any

from climate_glue.aws import aws_client

from climate_assets.settings import STACK_VARIABLES, AwsSettings

TEMPLATE = "infra/climate-assets.yaml"


class StackError(Exception):
    """The stack's outputs cannot be read: one line saying what, where and what to do."""


def variable_name(output_key: str) -> str:
    """``ClimateRdsSecretId`` -> ``CLIMATE_RDS_SECRET_ID``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", output_key).upper()


def _describe(client: Callable, stack: str, region: str | None) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    where = f"in {region}" if region else "in the default region"
    try:
        return client("cloudformation", region).describe_stacks(StackName=stack)["Stacks"][0]
    except NoCredentialsError:
        raise StackError(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY), or run where a role provides them"
        ) from None
    except NoRegionError:
        raise StackError("no AWS region: pass --region or set AWS_REGION") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if "does not exist" in error.get("Message", ""):
            raise StackError(
                f"no stack {stack!r} {where}: deploy it first (aws cloudformation deploy"
                f" --template-file {TEMPLATE} --stack-name {stack} ...)"
            ) from None
        raise StackError(
            f"reading stack {stack!r} {where} failed: {error.get('Code')}: {error.get('Message')}"
        ) from None
    except BotoCoreError as exc:
        raise StackError(f"reading stack {stack!r} {where} failed: {exc}") from None


def stack_outputs(
    stack: str, region: str | None, client: Callable[[str, str | None], Any] = aws_client
) -> dict[str, str]:
    """Output key -> value of a stack whose last create or update completed."""
    description = _describe(client, stack, region)
    status = description["StackStatus"]
    if status.endswith("_IN_PROGRESS"):
        raise StackError(f"stack {stack!r} is {status}: wait until it completes")
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
        raise StackError(f"stack {stack!r} is {status}: its outputs are not usable")
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def export_lines(outputs: dict[str, str]) -> tuple[list[str], list[str]]:
    """The ``export`` lines of the stack's variables (in STACK_VARIABLES order), and the names
    of the variables the stack has no output for."""
    values = {variable_name(key): value for key, value in outputs.items()}
    lines = [
        f"export {name}={shlex.quote(values[name])}" for name in STACK_VARIABLES if name in values
    ]
    return lines, [name for name in STACK_VARIABLES if name not in values]


def env_command(
    args: argparse.Namespace, out: Callable[[str], None], err: Callable[[str], None]
) -> int:
    """The command: ``export`` lines to ``out``; a problem, in one line, to ``err``."""
    region = args.region or AwsSettings.from_env().region
    try:
        outputs = stack_outputs(args.stack, region)
    except StackError as exc:
        err(f"climate-assets env: {exc}")
        return 1
    lines, missing = export_lines(outputs)
    for line in lines:
        out(line)
    if missing:
        err(
            f"climate-assets env: stack {args.stack!r} has no output for {', '.join(missing)}:"
            f" update it from {TEMPLATE}"
        )
        return 1
    return 0
