"""The data logic of the contract, written once as SQL and run by either engine.

Every row rule, the duplicate rule, the three formulas, the check aggregates and the privacy
suppression are SQL text generated here from ``contract.py``, in Spark SQL (what Glue runs as
it is). The DuckDB engine transpiles the same text with sqlglot. Nothing here touches a path, a
client or an engine: each function takes the names of the relations it reads (views the
engine registered) and returns a query.

Written so both engines agree value for value (``tests/dagster/test_engine_parity.py``):
- parsing is ``TRY_CAST`` behind a pattern, never a bare cast (Spark's cast gives null where
  DuckDB's raises);
- scores round through ``DECIMAL(38, 12)`` (DuckDB rounds a double's binary value, Spark its
  decimal one; through a decimal both round the same number half away from zero);
- white space is an explicit class (Java's ``\\s`` matches \\x0B, RE2's does not);
- every output column is cast to its contract type at the end (DuckDB's SUM of BIGINT is a
  HUGEINT, Spark's a BIGINT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from .contract import (
    FALSE_WORDS,
    HEALTH_COUNT_COLUMNS,
    HEALTH_RISKS,
    HOSPITAL_RESOURCES,
    RESILIENCE_SCORES,
    SPARK_TYPES,
    SUPPRESS_MAX,
    SUPPRESS_MIN,
    TRUE_WORDS,
    Column,
    Dataset,
)

DOUBLE_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
WHOLE_PATTERN = r"^[+-]?\d+$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
# Leading or trailing white space, as Java's \s has it (space, \t, \n, \x0B, \f, \r).
SPACE_PATTERN = r"^[ \t\n\x0B\f\r]+|[ \t\n\x0B\f\r]+$"
# A text key longer than this is rejected: PostgreSQL's primary key index refuses an entry of
# more than about 2.7 KB, and no real id comes near it (4 bytes a character at most: 1 KB).
KEY_MAX_CHARS = 256

RULE_DATE_NOT_PARTITION = "date: does not match its partition folder"
RULE_UNKNOWN_LOCATION = "location_id: unknown location"
RULE_DUPLICATE_CONFLICT = "duplicate key with conflicting values"

ROW_COLUMNS = ("_source_file", "_row")
KEY = ("location_id", "date")


# --------------------------------------------------------------------------- SQL text helpers


def q(name: str) -> str:
    """A quoted identifier (Spark's backticks; sqlglot turns them into DuckDB's quotes)."""
    return "`" + name.replace("`", "``") + "`"


def lit(text: str) -> str:
    """A string literal in Spark SQL, where a backslash escapes."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def num(value: float) -> str:
    return f"{value:g}"


def typed_name(name: str) -> str:
    return f"__v_{name}"


def cleaned_name(name: str) -> str:
    return f"__s_{name}"


def clip(expr: str, low: float, high: float) -> str:
    return f"least(greatest({expr}, {num(low)}), {num(high)})"


def zero(expr: str) -> str:
    return f"coalesce({expr}, 0)"


def round_score(expr: str) -> str:
    """Round half away from zero to 2 decimals, on the value's decimal meaning (12 places first
    removes a double's noise: 12.344999999999994 from an exact 12.345 rounds to 12.35)."""
    return f"CAST(round(CAST({expr} AS DECIMAL(38, 12)), 2) AS DOUBLE)"


def bands(expr: str, limits: Sequence[tuple[float, str]], top: str) -> str:
    """Label by the first band whose upper bound (exclusive) the value is below."""
    whens = " ".join(f"WHEN {expr} < {num(bound)} THEN {lit(label)}" for bound, label in limits)
    return f"CASE {whens} ELSE {lit(top)} END"


def cast_to(expr: str, kind: str) -> str:
    return f"CAST({expr} AS {SPARK_TYPES[kind].upper()})"


def typed_select(types: dict[str, str], source: str = "") -> str:
    """Every column cast to its contract type, in contract order."""
    prefix = f"{source}." if source else ""
    return ", ".join(f"{cast_to(prefix + q(c), kind)} AS {q(c)}" for c, kind in types.items())


def known_locations(relation: str, alias: str) -> str:
    """The distinct known location ids of ``relation`` as a subquery with one column ``alias``,
    for a left join that finds rows whose location is unknown (row rules and checks alike)."""
    return f"(SELECT DISTINCT location_id AS {q(alias)} FROM {relation})"


class Rule(NamedTuple):
    """A row rule: the SQL condition true when a row breaks it, and the rule's text."""

    broken: str
    text: str


def first_broken(rules: Sequence[Rule]) -> str:
    """The text of the first rule whose condition is true, else null (null is not broken)."""
    whens = [f"CASE WHEN {rule.broken} THEN {lit(rule.text)} END" for rule in rules]
    return f"coalesce({', '.join([*whens, 'CAST(NULL AS STRING)'])})"


# --------------------------------------------------------------------------- row rules


class Parsed(NamedTuple):
    """The typed value of a cleaned text, and the rule a present value that does not parse
    breaks (``None``: every text parses)."""

    value: str
    unparseable: str | None


def _parse(column: Column, text: str) -> Parsed:
    kind = column.type
    if kind == "string":
        return Parsed(text, None)
    if kind == "double":
        return Parsed(
            f"CASE WHEN {text} RLIKE {lit(DOUBLE_PATTERN)} THEN TRY_CAST({text} AS DOUBLE) END",
            f"{column.name}: not a number",
        )
    if kind in ("long", "int"):
        # A whole number too large for the type is null: also "not a whole number".
        return Parsed(
            f"CASE WHEN {text} RLIKE {lit(WHOLE_PATTERN)}"
            f" THEN TRY_CAST({text} AS {SPARK_TYPES[kind].upper()}) END",
            f"{column.name}: not a whole number",
        )
    if kind == "date":
        return Parsed(
            f"CASE WHEN {text} RLIKE {lit(DATE_PATTERN)} THEN TRY_CAST({text} AS DATE) END",
            f"{column.name}: not a date (YYYY-MM-DD)",
        )
    if kind == "bool":
        true = ", ".join(map(lit, TRUE_WORDS))
        false = ", ".join(map(lit, FALSE_WORDS))
        return Parsed(
            f"CASE WHEN lower({text}) IN ({true}) THEN TRUE"
            f" WHEN lower({text}) IN ({false}) THEN FALSE END",
            f"{column.name}: not a boolean (true/false, 1/0, yes/no, y/n)",
        )
    raise ValueError(f"unknown contract type {kind!r} for {column.name}")


def _finite(column: Column, parsed: str) -> str:
    """A double that overflowed to infinity ("1e999" matches the pattern) is not a number."""
    if column.type != "double":
        return parsed
    return (
        f"CASE WHEN NOT isnan({parsed}) AND abs({parsed}) < CAST('Infinity' AS DOUBLE)"
        f" THEN {parsed} END"
    )


def _range_rule(column: Column, value: str) -> Rule | None:
    low, high = column.min, column.max
    if low is None and high is None:
        return None
    if low is not None and high is not None:
        return Rule(
            f"({value} < {num(low)} OR {value} > {num(high)})",
            f"{column.name}: out of range {num(low)}..{num(high)}",
        )
    if low is not None:
        if column.min_exclusive:
            return Rule(f"{value} <= {num(low)}", f"{column.name}: must be > {num(low)}")
        return Rule(f"{value} < {num(low)}", f"{column.name}: must be >= {num(low)}")
    return Rule(f"{value} > {num(high)}", f"{column.name}: must be <= {num(high)}")


def row_rules(dataset: Dataset) -> list[Rule]:
    """The row rules in the order that decides which rule a row is rejected by:
    per column missing then unparseable (or a text key too long), then ranges, then column-to-column bounds, then the
    partition date, then the unknown location."""
    rules: list[Rule] = []
    for column in dataset.columns:
        text, value = q(cleaned_name(column.name)), q(typed_name(column.name))
        if column.non_null:
            rules.append(Rule(f"{text} IS NULL", f"{column.name}: required value is missing"))
        unparseable = _parse(column, text).unparseable
        if unparseable is not None:
            rules.append(Rule(f"({text} IS NOT NULL AND {value} IS NULL)", unparseable))
        if column.name in dataset.key and column.type == "string":
            rules.append(
                Rule(
                    f"length({text}) > {KEY_MAX_CHARS}",
                    f"{column.name}: longer than {KEY_MAX_CHARS} characters",
                )
            )
    for column in dataset.columns:
        bound = _range_rule(column, q(typed_name(column.name)))
        if bound is not None:
            rules.append(bound)
    for column in dataset.columns:
        if column.max_column:
            rules.append(
                Rule(
                    f"{q(typed_name(column.name))} > {q(typed_name(column.max_column))}",
                    f"{column.name}: must be <= {column.max_column}",
                )
            )
    if dataset.daily:
        rules.append(
            Rule(
                f"{q(typed_name('date'))} <> CAST({q('_partition_date')} AS DATE)",
                RULE_DATE_NOT_PARTITION,
            )
        )
    if dataset.references_locations:
        rules.append(
            Rule(
                f"({q(typed_name('location_id'))} IS NOT NULL AND __known_location IS NULL)",
                RULE_UNKNOWN_LOCATION,
            )
        )
    return rules


def _content(dataset: Dataset) -> str:
    """A text that is equal for two rows exactly when their typed values are (each value is
    prefixed by its length, so no separator inside a value can make two rows look alike)."""
    parts = []
    for name in dataset.column_names:
        text = f"CAST({q(typed_name(name))} AS STRING)"
        parts.append(f"coalesce(concat(CAST(length({text}) AS STRING), ':', {text}), '-')")
    return f"concat_ws('|', {', '.join(parts)})"


def validate(dataset: Dataset, raw: str, known: str | None, repeated_keys_only: bool) -> str:
    """Every row of ``raw`` (contract columns as strings, ``_source_file``, ``_row`` and, for a
    daily dataset, ``_partition_date``) with its typed values ``__v_<column>``, the first rule
    it broke (``_reject_rule``, null for a good row) and ``_duplicate_dropped``.

    Duplicate rule, among rows that passed the row rules: rows sharing a key keep only the last
    in file order when identical (the others are dropped); when they differ, all are rejected.
    ``repeated_keys_only`` picks how (the engine's choice, same rows either way): windows only
    over the good rows whose key repeats, found by a grouping; or windows over every row.
    """
    if dataset.references_locations and known is None:
        raise ValueError(f"{dataset.name} references locations: known locations are required")
    names = dataset.column_names
    cleaned = ", ".join(
        f"nullif(regexp_replace({q(n)}, {lit(SPACE_PATTERN)}, ''), '') AS {q(cleaned_name(n))}"
        for n in names
    )
    parsed = ", ".join(
        f"{_parse(c, q(cleaned_name(c.name))).value} AS {q('__p_' + c.name)}"
        for c in dataset.columns
    )
    finite = ", ".join(
        f"{_finite(c, q('__p_' + c.name))} AS {q(typed_name(c.name))}" for c in dataset.columns
    )
    join = ""
    if dataset.references_locations:
        join = (
            f" LEFT JOIN {known_locations(known, '__known_location')} k"
            f" ON parsed.{q(typed_name('location_id'))} = k.__known_location"
        )
    output = ", ".join(
        [*map(q, names), *map(q, ROW_COLUMNS)]
        + ([q("_partition_date")] if dataset.daily else [])
        + [q(typed_name(n)) for n in names]
    )
    duplicates = _repeated_keys if repeated_keys_only else _every_row
    # ``ruled`` holds only the output columns and the join: the repeated-keys form reads it
    # three times, and DuckDB then materializes the nearest CTE with a join, this narrow one
    # (with the join in a wider CTE below, it stored every cleaned and parsed text: +0.6 CPU s).
    return f"""
WITH cleaned AS (SELECT *, {cleaned} FROM {raw}),
parsed0 AS (SELECT *, {parsed} FROM cleaned),
parsed AS (SELECT *, {finite} FROM parsed0),
ruled AS (
  SELECT {output}, {first_broken(row_rules(dataset))} AS _reject_rule FROM parsed{join}
),
{duplicates(dataset, output)}
"""


def _duplicate_windows(dataset: Dataset, rows: str, apart: str = "") -> str:
    """``rows`` with ``__conflicting`` (its key's rows differ) and ``__is_last`` (in file
    order), per key and ``apart``. One window (partition and order) for both functions, so
    Spark sorts once."""
    key = ", ".join([*(q(typed_name(k)) for k in dataset.key), *([apart] if apart else [])])
    ordered = f"PARTITION BY {key} ORDER BY `_source_file` DESC, `_row` DESC"
    whole = f"{ordered} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    return f"""SELECT *,
    min(__content) OVER ({whole}) <> max(__content) OVER ({whole}) AS __conflicting,
    row_number() OVER ({ordered}) = 1 AS __is_last
  FROM {rows}"""


def _every_row(dataset: Dataset, output: str) -> str:
    """The duplicate rule as windows over every row, good and rejected apart: on Spark one
    sort of the rows, where a grouping and joins back would be more shuffles."""
    return f"""keyed AS (
  SELECT *, _reject_rule IS NULL AS __good, {_content(dataset)} AS __content FROM ruled
),
windowed AS ({_duplicate_windows(dataset, "keyed", "__good")})
SELECT {output},
  CASE WHEN __good AND __conflicting THEN {lit(RULE_DUPLICATE_CONFLICT)} ELSE _reject_rule END
    AS _reject_rule,
  __good AND NOT __conflicting AND NOT __is_last AS _duplicate_dropped
FROM windowed"""


def _repeated_keys(dataset: Dataset, output: str) -> str:
    """The duplicate rule on the good rows whose key repeats (a hash grouping finds them; keys
    are required values, so a good row's key is never null): only they are compared, so only
    they build ``__content`` and are sorted. Every other row keeps its row-rule outcome."""
    key = ", ".join(q(typed_name(k)) for k in dataset.key)
    twin = " AND ".join(f"ruled.{q(typed_name(k))} = r.{q(typed_name(k))}" for k in dataset.key)
    twin = f"ruled._reject_rule IS NULL AND {twin}"
    return f"""repeated AS (
  SELECT {key} FROM ruled WHERE _reject_rule IS NULL GROUP BY {key} HAVING count(*) > 1
),
twins AS (
  SELECT ruled.*, {_content(dataset)} AS __content
  FROM ruled LEFT SEMI JOIN repeated r ON {twin}
),
decided AS ({_duplicate_windows(dataset, "twins")})
SELECT {output}, _reject_rule, FALSE AS _duplicate_dropped
FROM ruled LEFT ANTI JOIN repeated r ON {twin}
UNION ALL
SELECT {output},
  CASE WHEN __conflicting THEN {lit(RULE_DUPLICATE_CONFLICT)} END AS _reject_rule,
  NOT __conflicting AND NOT __is_last AS _duplicate_dropped
FROM decided"""


def valid_rows(dataset: Dataset, validated: str) -> str:
    """Typed rows that passed every rule, in contract column order, with their ``_source_file``."""
    columns = ", ".join(f"{q(typed_name(c))} AS {q(c)}" for c in dataset.column_names)
    return (
        f"SELECT {columns}, `_source_file` FROM {validated}"
        " WHERE _reject_rule IS NULL AND NOT _duplicate_dropped"
    )


def rejected_rows(dataset: Dataset, validated: str) -> str:
    """Rejected rows as they arrived (raw strings), with file, row and the rule broken."""
    extra = ["_partition_date"] if dataset.daily else []
    columns = ", ".join(map(q, [*ROW_COLUMNS, "_reject_rule", *extra, *dataset.column_names]))
    return f"SELECT {columns} FROM {validated} WHERE _reject_rule IS NOT NULL"


def outcome_counts(dataset: Dataset, validated: str) -> str:
    """Rows per broken rule (null: good), duplicate flag and (daily) partition date."""
    by = ["_reject_rule", "_duplicate_dropped"] + (["_partition_date"] if dataset.daily else [])
    group = ", ".join(map(q, by))
    return f"SELECT {group}, count(*) AS `count` FROM {validated} GROUP BY {group}"


def first_rejects(rejects: str, size: int) -> str:
    return (
        f"SELECT `_source_file`, `_row`, `_reject_rule` FROM {rejects}"
        f" ORDER BY `_source_file`, `_row` LIMIT {size}"
    )


# --------------------------------------------------------------------------- derived metrics


def health_risks(climate: str, health: str, locations: str) -> str:
    """climate_data ⋈ health_data ⋈ locations (inner joins on location_id, date)."""
    counts = " + ".join(zero(f"h.{q(c)}") for c in HEALTH_COUNT_COLUMNS)
    return f"""
WITH base AS (
  SELECT c.location_id, c.`date`,
    {clip("(c.temp_max_c - 27) / 18", 0, 1)} AS heat_stress,
    {clip(zero("c.aqi") + " / 300", 0, 1)} AS air_quality_risk,
    {clip(zero("c.precipitation_mm") + " / 100", 0, 1)} AS precipitation_risk,
    CAST({counts} AS BIGINT) AS case_total,
    l.population,
    c.aqi IS NOT NULL AND c.precipitation_mm IS NOT NULL AS inputs_complete
  FROM {climate} c
  JOIN {health} h ON c.location_id = h.location_id AND c.`date` = h.`date`
  JOIN {locations} l ON c.location_id = l.location_id
),
hazard AS (
  SELECT *,
    0.5 * heat_stress + 0.3 * air_quality_risk + 0.2 * precipitation_risk AS climate_hazard,
    case_total / population * 100000 AS cases_per_100k
  FROM base
),
scored AS (
  SELECT *,
    {round_score("100 * (0.6 * climate_hazard + 0.4 * " + clip("cases_per_100k / 50", 0, 1) + ")")}
      AS health_risk_index
  FROM hazard
),
result AS (
  SELECT *,
    {bands("health_risk_index", [(25, "low"), (50, "moderate"), (75, "high")], "severe")}
      AS risk_level
  FROM scored
)
SELECT {typed_select(HEALTH_RISKS.types)} FROM result
"""


def hospital_resources(hospital: str, locations: str, dates: str) -> str:
    """Every location x every date of ``dates`` (one ``date`` column), aggregating hospital_data
    of that location and date; a location with no hospitals gets zeros."""
    sums = ("hospital_count", "total_beds", "beds_occupied", "icu_beds", "icu_beds_occupied")
    filled = ", ".join(f"CAST({zero('p.' + c)} AS BIGINT) AS {c}" for c in sums)
    score = round_score(
        "100 * ("
        f"0.4 * {clip('beds_per_1k / 3', 0, 1)}"
        " + 0.3 * (1 - coalesce(occupancy_rate, 1.0))"
        f" + 0.2 * {clip('icu_per_100k / 30', 0, 1)}"
        " + 0.1 * backup_power_share)"
    )
    return f"""
WITH per_day AS (
  SELECT location_id, `date`,
    count(*) AS hospital_count,
    sum(total_beds) AS total_beds,
    sum(beds_occupied) AS beds_occupied,
    sum({zero("icu_beds")}) AS icu_beds,
    sum({zero("icu_beds_occupied")}) AS icu_beds_occupied,
    sum(CASE WHEN has_backup_power THEN total_beds ELSE 0 END) AS backup_beds,
    sum(CASE WHEN in_flood_zone THEN total_beds ELSE 0 END) AS flood_beds
  FROM {hospital}
  GROUP BY location_id, `date`
),
grid AS (
  SELECT l.location_id, l.population, d.`date`
  FROM {locations} l CROSS JOIN {dates} d
),
filled AS (
  SELECT g.location_id, g.`date`, g.population, {filled},
    CAST({zero("p.backup_beds")} AS BIGINT) AS backup_beds,
    CAST({zero("p.flood_beds")} AS BIGINT) AS flood_beds
  FROM grid g LEFT JOIN per_day p ON g.location_id = p.location_id AND g.`date` = p.`date`
),
rates AS (
  SELECT *,
    total_beds - beds_occupied AS beds_available,
    CASE WHEN total_beds > 0 THEN beds_occupied / total_beds END AS occupancy_rate,
    total_beds / population * 1000 AS beds_per_1k,
    icu_beds / population * 100000 AS icu_per_100k,
    CASE WHEN total_beds > 0 THEN backup_beds / total_beds ELSE 0.0 END AS backup_power_share,
    CASE WHEN total_beds > 0 THEN flood_beds / total_beds ELSE 0.0 END AS flood_exposed_share
  FROM filled
),
scored AS (SELECT *, {score} AS capacity_score FROM rates)
SELECT {typed_select(HOSPITAL_RESOURCES.types)} FROM scored
"""


def resilience_scores(risks: str, resources: str) -> str:
    """health_risks ⋈ hospital_resources (inner join on location_id, date)."""
    raw = (
        "0.45 * s.capacity_score + 0.45 * (100 - r.health_risk_index)"
        " + 10 * (1 - s.flood_exposed_share)"
    )
    category = bands(
        "resilience_score",
        [(40, "critical"), (60, "vulnerable"), (80, "resilient")],
        "highly_resilient",
    )
    return f"""
WITH scored AS (
  SELECT r.location_id, r.`date`, r.health_risk_index, r.risk_level, s.capacity_score,
    s.flood_exposed_share, {round_score(clip(raw, 0, 100))} AS resilience_score
  FROM {risks} r JOIN {resources} s ON r.location_id = s.location_id AND r.`date` = s.`date`
),
result AS (SELECT *, {category} AS resilience_category FROM scored)
SELECT {typed_select(RESILIENCE_SCORES.types)} FROM result
"""


def with_lineage(
    relation: str, columns: Sequence[str], processed_at: str, run_id: str, source: str | None
) -> str:
    """``columns`` of ``relation`` plus the lineage columns. ``source`` is the expression for
    ``_source_file`` (None: the relation has its own); ``processed_at`` an ISO timestamp."""
    source_file = source if source is not None else q("_source_file")
    return (
        f"SELECT {', '.join(map(q, columns))}, {source_file} AS `_source_file`,"
        f" CAST({lit(processed_at)} AS TIMESTAMP) AS `_processed_at`,"
        f" {lit(run_id)} AS `_run_id` FROM {relation}"
    )


DERIVED_SOURCE = "concat('date=', CAST(`date` AS STRING))"  # a derived row's input partition


def suppress_small_counts(
    relation: str, columns: Sequence[str], suppress: Mapping[str, Sequence[str]]
) -> str:
    """Privacy for shared outputs (contract section 4), by an asset's rule ``suppress`` (count
    column -> the columns computed from it): a count of 1..10 and the columns computed from it
    become null, and the row is flagged ``suppressed`` when any of its counts is small."""
    small = {
        count: f"coalesce({q(count)} BETWEEN {SUPPRESS_MIN} AND {SUPPRESS_MAX}, FALSE)"
        for count in suppress
    }
    hidden_by = {count: small[count] for count in suppress}
    hidden_by.update({c: small[count] for count, computed in suppress.items() for c in computed})
    shown = ", ".join(
        f"CASE WHEN NOT {hidden_by[c]} THEN {q(c)} END AS {q(c)}" if c in hidden_by else q(c)
        for c in columns
    )
    return f"SELECT {shown}, ({' OR '.join(small.values())}) AS suppressed FROM {relation}"


def hive_columns(relation: str) -> str:
    """``relation`` with the year/month/day folder values of its ``date`` (lake layout)."""
    return (
        "SELECT *, date_format(`date`, 'yyyy') AS `year`, date_format(`date`, 'MM') AS `month`,"
        f" date_format(`date`, 'dd') AS `day` FROM {relation}"
    )


def rejects_by_date(dataset: Dataset, rejects: str) -> str:
    """Rejects laid out like the landing zone: the raw ``date`` value becomes ``raw_date`` and
    the partition date becomes the ``date`` the output is partitioned by."""
    columns = [*ROW_COLUMNS, "_reject_rule", *dataset.column_names]
    shown = ", ".join(f"{q(c)} AS {q('raw_date' if c == 'date' else c)}" for c in columns)
    return f"SELECT {shown}, `_partition_date` AS `date` FROM {rejects}"
