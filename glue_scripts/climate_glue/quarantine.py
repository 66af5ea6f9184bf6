"""Quarantine (contract section 3): a landing file that is not processed is moved aside with a
reason file beside it, never silently dropped.

``quarantine/<original key>`` holds the file as it arrived; ``quarantine/<original key>.reason.json``
says why, when, and who moved it (a job run or a sensor), so an operator can fix and re-drop it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from .contract import QUARANTINE_PREFIX
from .lake import Lake

REASON_SUFFIX = ".reason.json"


def quarantine_key(key: str) -> str:
    return f"{QUARANTINE_PREFIX}/{key.strip('/')}"


def quarantine(lake: Lake, key: str, reason: str, moved_by: str) -> str:
    """Move ``key`` to quarantine with its reason; returns the quarantined key.

    The reason is written first, so a file is never in quarantine without one.
    """
    target = quarantine_key(key)
    record = {
        "key": key,
        "reason": reason,
        "moved_by": moved_by,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    lake.write_text(target + REASON_SUFFIX, json.dumps(record, indent=2) + "\n")
    lake.move(key, target)
    return target
