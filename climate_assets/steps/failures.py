"""A failed step's cause in one line: the job's own message, not Dagster's wrapper chain.

A Glue-backed step that fails carries, from the outside in, Dagster's ``Failure`` (our
``retry_only_transient``), the ``RuntimeError`` of ``PipesGlueClient`` (``Glue job ... run ...
completed with status FAILED : <ErrorMessage>``) and the job's own exception. ``cause_line``
reduces an exception to the line an operator needs (``the lake's disk is full (No space left on
device) while staging 2016-05-06; nothing was published``); ``step_failure_cause`` reads it back
from a ``STEP_FAILURE`` event for the demo, ``materialize``, ``check``, ``status`` and alerts.
"""

from __future__ import annotations

import re

# The job's error as the Glue run reports it: "<Type>: <message>" after the status.
_JOB_ERROR = re.compile(r"completed with status \w+ :\s*\n?([A-Za-z_][\w.]*): ([^\n]*)")
_TYPE_PREFIX = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failure|Fault)): ")
MAX_LINE = 600
CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"
# The job's own exception types whose message is the whole story (no type name shown).
OWN_MESSAGES = {"EnvironmentFaultError": "", "RawFilesError": "quarantined: ", "RawFileError": ""}


def error_text(error: BaseException | str) -> str:
    """The error as text: ``Type: message`` of the exception and of each cause in its chain."""
    if isinstance(error, str):
        return error
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _line(text: str) -> str:
    return " ".join(text.split())[:MAX_LINE]


def _phrase(kind: str, message: str) -> str:
    kind = kind.rsplit(".", 1)[-1]
    if kind in OWN_MESSAGES:
        return _line(OWN_MESSAGES[kind] + message)
    return _line(f"{kind}: {message}")


def cause_line(error: BaseException) -> str:
    """The cause of a failed launch, in one line: the Glue job's own error where there is one,
    else the innermost exception of the chain."""
    match = _JOB_ERROR.search(error_text(error))
    if match:
        return _phrase(match.group(1), match.group(2))
    innermost = error
    seen = {id(error)}
    while True:
        nxt = innermost.__cause__ or innermost.__context__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        innermost = nxt
    first = str(innermost).strip().splitlines()
    return _phrase(type(innermost).__name__, first[0] if first else "")


def _held_back(message: str) -> str:
    checks = "; ".join(line.strip() for line in message.splitlines()[1:] if line.strip())
    return f"held back by blocking check(s) {checks}" if checks else "held back by a blocking check"


def step_failure_cause(data) -> str:
    """One line for a STEP_FAILURE's ``StepFailureData``: a held-back day, the description of
    our ``dg.Failure`` (the job's message), else the innermost error of the chain."""
    chain = []
    error = data.error
    while error is not None:
        chain.append(error)
        error = error.cause
    for error in chain:
        if error.cls_name == CHECK_FAILED_ERROR:
            return _held_back(error.message)
    user = data.user_failure_data
    if user is not None and user.description:
        return _line(user.description.strip().splitlines()[0])
    if not chain:
        return "failed (no error recorded)"
    innermost = chain[-1]
    message = innermost.message.strip()
    match = _TYPE_PREFIX.match(message)
    if match:
        message = message[match.end() :]
    return _phrase(innermost.cls_name, message.splitlines()[0] if message else "")


def step_failure_held(data) -> bool:
    """Whether a failed step is data held back (a blocking check held a day, a file was
    quarantined, another data fault): the pipeline working, not a failure to run."""
    error = data.error
    while error is not None:
        if error.cls_name == CHECK_FAILED_ERROR:
            return True
        error = error.cause
    user = data.user_failure_data
    fault = user.metadata.get("fault") if user is not None else None
    return fault is not None and str(fault.value).startswith("data fault")
