"""Row rules and the duplicate rule of the data contract, on an engine's relations.

Input is a relation of raw values as strings, one column per contract column (absent optional
columns are null), plus ``_source_file`` (raw key), ``_row`` (1-based data row in that file)
and, for daily datasets, ``_partition_date`` (the date of the folder the file landed in). The
rules themselves are SQL in ``logic.py``; these functions run them on an engine.

``validate`` adds a typed column per contract column (``__v_<name>``), ``_reject_rule`` (null for
a good row, else the first rule the row broke, as a stable text that counts can be grouped by)
and ``_duplicate_dropped``. The raw strings are kept so a reject shows exactly what arrived.
"""

from __future__ import annotations

from . import logic
from .contract import Dataset
from .engines import Engine, Frame
from .logic import (
    ROW_COLUMNS,
    RULE_DATE_NOT_PARTITION,
    RULE_DUPLICATE_CONFLICT,
    RULE_UNKNOWN_LOCATION,
    typed_name,
)

__all__ = [
    "ROW_COLUMNS",
    "RULE_DATE_NOT_PARTITION",
    "RULE_DUPLICATE_CONFLICT",
    "RULE_UNKNOWN_LOCATION",
    "rejected_rows",
    "typed_name",
    "valid_rows",
    "validate",
]


def validate(engine: Engine, raw: Frame, dataset: Dataset, known: Frame | None = None) -> Frame:
    """All row rules, then the duplicate rule (kept: every output reads it)."""
    text = logic.validate(
        dataset, raw.name, known.name if known else None, engine.duplicates_on_repeated_keys
    )
    return engine.sql(text, True)


def valid_rows(engine: Engine, validated: Frame, dataset: Dataset) -> Frame:
    """Typed rows that passed every rule, in contract column order, with their ``_source_file``."""
    return engine.sql(logic.valid_rows(dataset, validated.name))


def rejected_rows(engine: Engine, validated: Frame, dataset: Dataset) -> Frame:
    """Rejected rows as they arrived (raw strings), with file, row and the rule broken."""
    return engine.sql(logic.rejected_rows(dataset, validated.name))
