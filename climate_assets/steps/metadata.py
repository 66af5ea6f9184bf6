"""Materialization metadata that the UI can plot.

The jobs report row counts, rejects, per-stage seconds and cost as numbers, which Dagster
plots over time on the asset page. Rejects per rule arrive as one JSON object
(``rejects_by_rule``); JSON is not plotted, so each rule's count is added here as its own
number (``rows_rejected_<rule>``). The job side could report those numbers itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping

import dagster as dg

REJECTS_BY_RULE = "rejects_by_rule"
REJECTED_PREFIX = "rows_rejected_"


def numeric_metadata(metadata: dict) -> dict[str, int | float]:
    """Numbers to add: one per count inside a JSON object of counts (e.g. rejects per rule)."""
    entry = metadata.get(REJECTS_BY_RULE)
    value = getattr(entry, "value", entry)
    if not isinstance(value, dict):
        return {}
    return {
        f"{REJECTED_PREFIX}{rule}": count
        for rule, count in value.items()
        if isinstance(count, int | float) and not isinstance(count, bool)
    }


def with_metadata(result: dg.MaterializeResult, extra: Mapping) -> dg.MaterializeResult:
    """``result`` with ``extra`` added to its metadata: a new result of the same public fields
    (every parameter of ``MaterializeResult``, so a field added by Dagster is carried too)."""
    fields = {
        name: getattr(result, name) for name in inspect.signature(dg.MaterializeResult).parameters
    }
    return dg.MaterializeResult(**{**fields, "metadata": {**(result.metadata or {}), **extra}})


def with_numeric_metadata(result):
    """The result with the added numbers; anything but a MaterializeResult is passed through."""
    if not isinstance(result, dg.MaterializeResult) or not result.metadata:
        return result
    extra = numeric_metadata(dict(result.metadata))
    if not extra:
        return result
    return with_metadata(result, extra)


def each_with_numeric_metadata(results: Iterable) -> Iterator:
    for result in results:
        yield with_numeric_metadata(result)
