"""Row rules and the duplicate rule of the data contract, as pure DataFrame transforms.

Input is a frame of raw values as strings, one column per contract column (absent optional
columns are null), plus ``_source_file`` (raw key), ``_row`` (1-based data row in that file)
and, for daily datasets, ``_partition_date`` (the date of the folder the file landed in).

``check_rows`` adds a typed column per contract column and ``_reject_rule``: null for a good row,
else the first rule the row broke, as a stable text that counts can be grouped by. The raw
strings are kept so a reject shows exactly what arrived.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from .contract import FALSE_WORDS, SPARK_TYPES, TRUE_WORDS, Column, Dataset

DOUBLE_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
WHOLE_PATTERN = r"^[+-]?\d+$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

RULE_DATE_NOT_PARTITION = "date: does not match its partition folder"
RULE_UNKNOWN_LOCATION = "location_id: unknown location"
RULE_DUPLICATE_CONFLICT = "duplicate key with conflicting values"

ROW_COLUMNS = ("_source_file", "_row")


def typed_name(name: str) -> str:
    return f"__v_{name}"


def cleaned_name(name: str) -> str:
    return f"__s_{name}"


def _cleaned(name: str) -> SparkColumn:
    """The raw value without leading or trailing white space (tabs too), empty read as null."""
    trimmed = F.regexp_replace(F.col(name), r"^\s+|\s+$", "")
    return F.when(trimmed == "", F.lit(None)).otherwise(trimmed)


def _parse(column: Column, raw: SparkColumn) -> tuple[SparkColumn, str | None]:
    """(typed value of the cleaned text ``raw``, rule text for a present value that does not
    parse). The typed value is null exactly when the value is absent or does not parse."""
    kind = column.type
    if kind == "string":
        return raw, None
    if kind == "double":
        value = F.when(raw.rlike(DOUBLE_PATTERN), raw.cast("double"))
        # "1e999" matches the pattern but overflows to Infinity: not a usable number either.
        finite = value.isNotNull() & ~F.isnan(value) & (F.abs(value) < float("inf"))
        return F.when(finite, value), f"{column.name}: not a number"
    if kind in ("long", "int"):
        # A whole number too large for the type casts to null: also "not a whole number".
        value = F.when(raw.rlike(WHOLE_PATTERN), raw.cast(SPARK_TYPES[kind]))
        return value, f"{column.name}: not a whole number"
    if kind == "date":
        value = F.when(raw.rlike(DATE_PATTERN), raw.cast("date"))
        return value, f"{column.name}: not a date (YYYY-MM-DD)"
    if kind == "bool":
        word = F.lower(raw)
        value = (
            F.when(word.isin(*TRUE_WORDS), F.lit(True))
            .when(word.isin(*FALSE_WORDS), F.lit(False))
            .otherwise(F.lit(None).cast("boolean"))
        )
        return value, f"{column.name}: not a boolean (true/false, 1/0, yes/no, y/n)"
    raise ValueError(f"unknown contract type {kind!r} for {column.name}")


def _range_rule(column: Column) -> tuple[SparkColumn, str] | None:
    """(broken condition on the typed value, rule text) for the column's min/max bounds."""
    value = F.col(typed_name(column.name))
    low, high = column.min, column.max
    if low is None and high is None:
        return None

    def fmt(x: float) -> str:
        return f"{x:g}"

    if low is not None and high is not None:
        return (value < low) | (
            value > high
        ), f"{column.name}: out of range {fmt(low)}..{fmt(high)}"
    if low is not None:
        if column.min_exclusive:
            return value <= low, f"{column.name}: must be > {fmt(low)}"
        return value < low, f"{column.name}: must be >= {fmt(low)}"
    return value > high, f"{column.name}: must be <= {fmt(high)}"


def _first_broken(rules: list[tuple[SparkColumn, str]]) -> SparkColumn:
    """The text of the first rule whose condition is true, else null (nulls count as not broken)."""
    return F.coalesce(
        *(F.when(cond, F.lit(text)) for cond, text in rules), F.lit(None).cast("string")
    )


def check_rows(raw: DataFrame, dataset: Dataset, known_locations: DataFrame | None) -> DataFrame:
    """Parse every contract column and tag each row with the first row rule it breaks.

    ``known_locations`` is a frame with a ``location_id`` column (the processed locations);
    it is required for datasets that reference locations.
    """
    # Each value is cleaned once and parsed once, each in its own column that the rules then
    # read: written as one expression, every rule would clean and parse it again (conditional
    # expressions are not shared), which made validation several times slower.
    names = [column.name for column in dataset.columns]
    cleaned = raw.select("*", *[_cleaned(name).alias(cleaned_name(name)) for name in names])
    rules: list[tuple[SparkColumn, str]] = []
    parsed_cols: list[SparkColumn] = []
    for column in dataset.columns:
        text_value = F.col(cleaned_name(column.name))
        value, unparseable = _parse(column, text_value)
        parsed_cols.append(value.alias(typed_name(column.name)))
        present = text_value.isNotNull()
        if column.non_null:
            rules.append((~present, f"{column.name}: required value is missing"))
        if unparseable is not None:
            rules.append((present & F.col(typed_name(column.name)).isNull(), unparseable))
    frame = cleaned.select("*", *parsed_cols)

    for column in dataset.columns:
        bound = _range_rule(column)
        if bound is not None:
            rules.append(bound)
    for column in dataset.columns:
        if column.max_column:
            broken = F.col(typed_name(column.name)) > F.col(typed_name(column.max_column))
            rules.append((broken, f"{column.name}: must be <= {column.max_column}"))
    if dataset.daily:
        rules.append(
            (
                F.col(typed_name("date")) != F.col("_partition_date").cast("date"),
                RULE_DATE_NOT_PARTITION,
            )
        )
    if dataset.references_locations:
        if known_locations is None:
            raise ValueError(f"{dataset.name} references locations: known_locations is required")
        known = known_locations.select(F.col("location_id").alias("__known_location")).distinct()
        frame = frame.join(
            F.broadcast(known),
            frame[typed_name("location_id")] == known["__known_location"],
            "left",
        )
        location_missing = (
            F.col(typed_name("location_id")).isNotNull() & F.col("__known_location").isNull()
        )
        rules.append((location_missing, RULE_UNKNOWN_LOCATION))
    frame = frame.withColumn("_reject_rule", _first_broken(rules))
    helpers = [cleaned_name(name) for name in names]
    if dataset.references_locations:
        helpers.append("__known_location")
    return frame.drop(*helpers)


def apply_duplicate_rule(checked: DataFrame, dataset: Dataset) -> DataFrame:
    """Apply the duplicate rule among rows that passed the row rules.

    Rows sharing a key: identical rows keep only the last in file order (the others get
    ``_duplicate_dropped``); rows that differ are all rejected with RULE_DUPLICATE_CONFLICT.
    Rows already rejected by a row rule take no part.
    """
    key = [typed_name(k) for k in dataset.key]
    data = [typed_name(c) for c in dataset.column_names]
    good = F.col("_reject_rule").isNull()
    by_key = Window.partitionBy(*key, good)
    content = F.to_json(F.struct(*[F.col(c).alias(c) for c in data]))
    order = F.struct("_source_file", "_row")
    frame = checked.withColumn("__content", content).withColumn("__order", order)
    conflicting = F.min("__content").over(by_key) != F.max("__content").over(by_key)
    is_last = F.col("__order") == F.max("__order").over(by_key)
    return (
        frame.withColumn(
            "_reject_rule",
            F.when(good & conflicting, F.lit(RULE_DUPLICATE_CONFLICT)).otherwise(
                F.col("_reject_rule")
            ),
        )
        .withColumn("_duplicate_dropped", good & ~conflicting & ~is_last)
        .drop("__content", "__order")
    )


def validate(
    raw: DataFrame, dataset: Dataset, known_locations: DataFrame | None = None
) -> DataFrame:
    """All row rules, then the duplicate rule: the frame ``valid_rows``/``rejected_rows`` split."""
    return apply_duplicate_rule(check_rows(raw, dataset, known_locations), dataset)


def valid_rows(validated: DataFrame, dataset: Dataset) -> DataFrame:
    """Typed rows that passed every rule, in contract column order, with their ``_source_file``."""
    kept = validated.where(F.col("_reject_rule").isNull() & ~F.col("_duplicate_dropped"))
    return kept.select(
        *[F.col(typed_name(c)).alias(c) for c in dataset.column_names],
        F.col("_source_file"),
    )


def rejected_rows(validated: DataFrame, dataset: Dataset) -> DataFrame:
    """Rejected rows as they arrived (raw strings), with file, row and the rule broken."""
    extra = ["_partition_date"] if dataset.daily else []
    return validated.where(F.col("_reject_rule").isNotNull()).select(
        *ROW_COLUMNS, "_reject_rule", *extra, *dataset.column_names
    )


def union_all(frames: list[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b), frames)
