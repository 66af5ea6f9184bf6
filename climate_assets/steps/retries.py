"""Which faults a retry can fix: transient ones are retried, data faults never.

A Glue-backed asset's failure comes from one of two places: the Dagster process itself
(``start_job_run`` refused, the lease's PostgreSQL connection, a Pipes message read), or the
job run, whose ``ErrorMessage`` ``PipesGlueClient`` puts in its error as
``"<ExceptionType>: <message>"`` (AWS Glue and the local engine write it the same way).
``classify`` reads that text, the whole exception chain, and says which kind of fault it is;
``retry_only_transient`` turns every fault that is not transient into a ``dg.Failure`` with
``allow_retries=False``, so the asset's ``RetryPolicy`` retries only what can pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg

from climate_assets.settings import DEFAULT_RETRY_DELAY_SECONDS, DEFAULT_RETRY_MAX
from climate_assets.steps.failures import CHECK_FAILED_ERROR, cause_line, error_text

TRANSIENT = "transient"
DATA = "data"
UNKNOWN = "unknown"

# Exception types (the job's, as Glue names them in ErrorMessage, or raised here) that are a
# fault of the data or of the contract: a retry reads the same bytes and fails the same way.
DATA_FAULT_TYPES = {
    "RawFilesError": "quarantine (raw files that cannot be read as the contract says)",
    "RawFileError": "quarantine (a raw file that cannot be read as the contract says)",
    "UpstreamMissingError": "missing upstream partition",
    "AnalysisException": "contract error (Spark could not resolve the data's schema)",
    CHECK_FAILED_ERROR: "blocking check failed",
}

# (pattern, what it means): faults that pass by themselves.
TRANSIENT_PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(p, re.IGNORECASE), reason)
    for p, reason in [
        (
            r"too many clients|remaining connection slots are reserved",
            "PostgreSQL out of connections",
        ),
        (
            r"connection refused|could not connect to server|connection to server .* failed"
            r"|server closed the connection unexpectedly|the database system is (starting up|shutting down"
            r"|in recovery mode)|terminating connection due to administrator command"
            r"|connection (reset|timed out)|timeout expired|no route to host",
            "PostgreSQL unreachable",
        ),
        (
            r"\b(SlowDown|Throttling|ThrottlingException|TooManyRequestsException"
            r"|RequestLimitExceeded|ProvisionedThroughputExceededException)\b",
            "AWS throttling",
        ),
        (
            r"(\(|Error Code: |\"Code\": \")(InternalError|ServiceUnavailable|RequestTimeout"
            r"|InternalServiceException|InternalFailure|OperationTimeoutException)\b"
            r"|Status Code: 5\d\d|\b50[234] (Service Unavailable|Bad Gateway|Gateway Timeout)",
            "AWS service error (5xx)",
        ),
        (r"\bConcurrentRunsExceededException\b", "Glue concurrent runs exceeded"),
        (
            r"DagsterPipesExecutionError: Timed out waiting for .* thread"
            r"|Pipes(S3)?MessageReader messages thread|Target of \w+MessageReader is not readable",
            "Pipes message read lost",
        ),
    ]
]

JOB_ERROR = re.compile(r"completed with status \w+ :\s*\n?([A-Za-z_][\w.]*)(?::|$)")


@dataclass(frozen=True)
class Fault:
    kind: str  # TRANSIENT, DATA or UNKNOWN
    reason: str  # what it is, for the error and the alert

    @property
    def retryable(self) -> bool:
        return self.kind == TRANSIENT

    def describe(self) -> str:
        label = {TRANSIENT: "transient fault", DATA: "data fault", UNKNOWN: "fault"}[self.kind]
        return f"{label}: {self.reason}"


def error_types(text: str) -> list[str]:
    """Exception type names in ``text``: the job's (from a Glue ErrorMessage) and each
    ``Type: message`` line's, last dotted part only."""
    names = [m.group(1) for m in JOB_ERROR.finditer(text)]
    names += re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failure)): ", text, re.MULTILINE)
    return [name.rsplit(".", 1)[-1] for name in names]


def classify(error: BaseException | str) -> Fault:
    """The kind of fault of an error (an exception, with its chain, or its text)."""
    text = error_text(error)
    for name in error_types(text):
        if name in DATA_FAULT_TYPES:
            return Fault(DATA, DATA_FAULT_TYPES[name])
    if isinstance(error, dg.Failure) and not error.allow_retries:
        return Fault(DATA, "failure that must not be retried")
    if re.search(r"\bblocking check\b", text, re.IGNORECASE):
        return Fault(DATA, "blocking check failed")
    for pattern, reason in TRANSIENT_PATTERNS:
        if pattern.search(text):
            return Fault(TRANSIENT, reason)
    return Fault(UNKNOWN, "not a known transient fault, so not retried")


def glue_retry_policy(
    max_retries: int = DEFAULT_RETRY_MAX, delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS
) -> dg.RetryPolicy:
    """Exponential backoff with jitter: waits of about 1, 3, 7, 15 ... x ``delay_seconds``
    ((2^n - 1) x delay for retry n, Dagster's formula), each moved by up to +/- one delay."""
    return dg.RetryPolicy(
        max_retries=max_retries,
        delay=delay_seconds,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


@contextmanager
def retry_only_transient(context: dg.AssetExecutionContext) -> Iterator[None]:
    """Let a transient fault through to the asset's retry policy (it says so in the log);
    make every other fault a ``dg.Failure`` that bypasses it, naming the fault."""
    try:
        yield
    except dg.Failure as failure:
        if failure.allow_retries and not classify(failure).retryable:
            raise dg.Failure(
                failure.description, metadata=failure.metadata, allow_retries=False
            ) from failure
        raise
    except Exception as exc:
        fault = classify(exc)
        text = error_text(exc)
        if fault.retryable:
            context.log.warning(f"{fault.describe()}; the step will be retried:\n{text[:2000]}")
            raise
        # The description is the cause in one line (what the demo, status and alerts show);
        # the whole chain stays in the metadata and in the step's error.
        raise dg.Failure(
            description=cause_line(exc),
            metadata={"fault": f"{fault.describe()} (not retried)", "error": text[:4000]},
            allow_retries=False,
        ) from exc
