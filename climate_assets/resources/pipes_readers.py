"""The Pipes message readers of the Glue runners: one writer each, the S3 one under a prefix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_aws.pipes import PipesS3MessageReader


class _OneWriter:
    """A job run is one external writer. Dagster 1.13's message handler asks every reader how
    many writers report into it, and the base class's answer (``expected_writer_count``) is a
    preview API, so each Pipes session would print a ``PreviewWarning`` that no user can act on.
    Answering it here (the same 1) keeps the session quiet."""

    @property
    def expected_writer_count(self) -> int:
        return 1


class TempFileMessageReader(_OneWriter, dg.PipesTempFileMessageReader):
    """Messages through a temporary file (the local engine runs the job in this process)."""


class PrefixedS3MessageReader(_OneWriter, PipesS3MessageReader):
    """``PipesS3MessageReader`` whose message chunks go under a key prefix of the bucket (the
    reader alone writes them at the bucket's root), so IAM can scope Pipes to that prefix."""

    def __init__(self, *, key_prefix: str, **kwargs):
        super().__init__(**kwargs)
        self._key_prefix = key_prefix.strip("/")

    @contextmanager
    def get_params(self) -> Iterator[dict]:
        with super().get_params() as params:
            yield {**params, "key_prefix": f"{self._key_prefix}/{params['key_prefix']}"}


class FollowingS3MessageReader(_OneWriter, PipesS3MessageReader):
    """Reads the messages of a Glue run that an earlier attempt started: from the place that
    attempt's reader gave the job (its ``--dagster-pipes-messages``), not a new one."""

    def __init__(self, *, params: dict, **kwargs):
        super().__init__(bucket=params["bucket"], **kwargs)
        self._params = dict(params)

    @contextmanager
    def get_params(self) -> Iterator[dict]:
        yield dict(self._params)
