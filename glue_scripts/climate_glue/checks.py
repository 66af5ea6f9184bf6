"""Asset checks computed inside the job, from frames the job already holds (pure functions).

A job measures its output frame once: one grouped aggregate (per day for dated assets) counts
rows, distinct keys and the rows breaking each row rule; a sample of failing keys is fetched
only for a rule that failed. ``CheckResult``s are then reported through Pipes with the
materialization, and the asset declares the same check names (``check_names``) as
``AssetCheckSpec``s. Checks that protect downstream data are blocking; the schema check warns.

A range of days is one job: a check fails when any day of the range fails, and its metadata
names the failing days.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from . import logic
from .contract import (
    HEALTH_RISKS,
    HOSPITAL_RESOURCES,
    RESILIENCE_SCORES,
    Dataset,
    Derived,
)
from .engines import Engine, Frame
from .logic import q

CHECK_UNIQUE_KEY = "unique_key"
CHECK_NOT_NULL = "required_not_null"
CHECK_VALUES_IN_RANGE = "values_in_range"
CHECK_KNOWN_LOCATIONS = "known_locations"
CHECK_REJECT_RATE = "reject_rate"
CHECK_ROW_COUNT = "row_count"
CHECK_SCHEMA = "schema_unchanged"

CHECK_DESCRIPTIONS = {
    CHECK_UNIQUE_KEY: "No two rows share the asset's key.",
    CHECK_NOT_NULL: "Required columns have a value on every row.",
    CHECK_VALUES_IN_RANGE: "Values within the contract's ranges (incl. column-to-column bounds).",
    CHECK_KNOWN_LOCATIONS: "Every location_id exists in locations.",
    CHECK_REJECT_RATE: "Rejected rows are at most the configured share of the rows read.",
    CHECK_ROW_COUNT: "Rows per day within a factor of the median of recent materializations.",
    CHECK_SCHEMA: "Raw files have the contract's columns and no others (schema drift warns).",
}
WARN_CHECKS = frozenset({CHECK_SCHEMA})
# Checks whose threshold is a judgement: an operator may accept them for named days (contract
# section 5). Rule checks cannot be accepted: their rows are rejects.
ACCEPTABLE_CHECKS = frozenset({CHECK_ROW_COUNT, CHECK_REJECT_RATE})

DEFAULT_MAX_REJECT_RATE = 0.01
# Row count against history: fail below half or above twice the recent median rows per day.
ROW_COUNT_MIN_RATIO = 0.5
ROW_COUNT_MAX_RATIO = 2.0
SAMPLE_SIZE = 5

SEVERITY_ERROR = "ERROR"
SEVERITY_WARN = "WARN"


@dataclass(frozen=True)
class RowRule:
    """A row-level condition (SQL) that fails ``check`` when ``broken`` is true."""

    check: str
    name: str
    broken: str


@dataclass
class CheckResult:
    name: str
    passed: bool
    metadata: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return SEVERITY_WARN if self.name in WARN_CHECKS else SEVERITY_ERROR


@dataclass
class QualityConfig:
    """What the asset passes to the job (``--quality``, JSON): the reject-rate threshold and the
    recent rows per day of each asset the job materializes."""

    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE
    row_history: dict[str, list[float]] = field(default_factory=dict)
    # Accepted exceptions: "asset:check" -> the days accepted (None: every day of the run).
    accepted: dict[str, list[str] | None] = field(default_factory=dict)
    accept_reason: str = ""
    accepted_by: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "max_reject_rate": self.max_reject_rate,
                "row_history": self.row_history,
                "accepted": self.accepted,
                "accept_reason": self.accept_reason,
                "accepted_by": self.accepted_by,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> QualityConfig:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            max_reject_rate=float(data.get("max_reject_rate", DEFAULT_MAX_REJECT_RATE)),
            row_history={
                k: [float(v) for v in vs] for k, vs in data.get("row_history", {}).items()
            },
            accepted=dict(data.get("accepted", {})),
            accept_reason=data.get("accept_reason", ""),
            accepted_by=data.get("accepted_by", ""),
        )

    def accept(self, asset: str, results: list[CheckResult]) -> list[CheckResult]:
        """Apply the accepted exceptions to ``asset``'s results: a failed judgement check whose
        failing days are all accepted passes, with ``accepted`` (days, by whom, why) in its
        metadata; days not accepted still fail it."""
        for result in results:
            entry = f"{asset}:{result.name}"
            if result.passed or entry not in self.accepted or result.name not in ACCEPTABLE_CHECKS:
                continue
            days = self.accepted[entry]
            failing = result.metadata.get("failing_days") or {}
            taken = [d for d in failing if days is None or d in days]
            if failing and not taken:
                continue
            result.metadata["accepted"] = {
                "days": sorted(taken) if failing else "all",
                "by": self.accepted_by,
                "reason": self.accept_reason,
            }
            left = (
                {d: failing[d] for d in failing if d not in taken}
                if isinstance(failing, dict)
                else [d for d in failing if d not in taken]
            )
            if left:
                result.metadata["failing_days"] = left
            else:
                result.metadata.pop("failing_days", None)
                result.passed = True
        return results


# --------------------------------------------------------------------------- which checks


def check_names(asset: Dataset | Derived) -> tuple[str, ...]:
    """The checks an asset declares and its job reports, in report order."""
    if isinstance(asset, Dataset):
        names = [CHECK_UNIQUE_KEY, CHECK_NOT_NULL, CHECK_VALUES_IN_RANGE]
        if asset.references_locations:
            names.append(CHECK_KNOWN_LOCATIONS)
        return (*names, CHECK_REJECT_RATE, CHECK_ROW_COUNT, CHECK_SCHEMA)
    return (
        CHECK_UNIQUE_KEY,
        CHECK_NOT_NULL,
        CHECK_VALUES_IN_RANGE,
        CHECK_KNOWN_LOCATIONS,
        CHECK_ROW_COUNT,
    )


def _bounds(name: str, low: float | None, high: float | None, exclusive_low=False) -> RowRule:
    value = q(name)
    if low is not None and high is not None:
        return RowRule(
            CHECK_VALUES_IN_RANGE,
            f"{name} in {low:g}..{high:g}",
            f"({value} < {low:g} OR {value} > {high:g})",
        )
    if low is not None:
        broken = f"{value} <= {low:g}" if exclusive_low else f"{value} < {low:g}"
        return RowRule(
            CHECK_VALUES_IN_RANGE, f"{name} {'>' if exclusive_low else '>='} {low:g}", broken
        )
    return RowRule(CHECK_VALUES_IN_RANGE, f"{name} <= {high:g}", f"{value} > {high:g}")


def _not_greater(name: str, other: str) -> RowRule:
    return RowRule(CHECK_VALUES_IN_RANGE, f"{name} <= {other}", f"{q(name)} > {q(other)}")


def _not_null(name: str) -> RowRule:
    return RowRule(CHECK_NOT_NULL, f"{name} not null", f"{q(name)} IS NULL")


def dataset_rules(dataset: Dataset) -> list[RowRule]:
    """The contract's column rules on a processed (typed) frame."""
    rules = [_not_null(c.name) for c in dataset.columns if c.non_null]
    for c in dataset.columns:
        if c.min is not None or c.max is not None:
            rules.append(_bounds(c.name, c.min, c.max, c.min_exclusive))
        if c.max_column:
            rules.append(_not_greater(c.name, c.max_column))
    return rules


SCORE_COLUMNS = ("health_risk_index", "capacity_score", "resilience_score")
SHARE_COLUMNS = (
    "heat_stress",
    "air_quality_risk",
    "precipitation_risk",
    "climate_hazard",
    "occupancy_rate",
    "backup_power_share",
    "flood_exposed_share",
)
COUNT_COLUMNS = (
    "case_total",
    "hospital_count",
    "total_beds",
    "beds_occupied",
    "icu_beds",
    "icu_beds_occupied",
)
DERIVED_PAIRS = {
    HOSPITAL_RESOURCES.asset: (("beds_occupied", "total_beds"), ("icu_beds", "total_beds"))
}
DERIVED_NOT_NULL = {
    HEALTH_RISKS.asset: ("health_risk_index", "risk_level"),
    HOSPITAL_RESOURCES.asset: ("capacity_score", "total_beds"),
    RESILIENCE_SCORES.asset: ("resilience_score", "resilience_category"),
}


def derived_rules(spec: Derived) -> list[RowRule]:
    """Scores within 0..100, shares within 0..1, counts >= 0, beds_occupied <= total_beds."""
    columns = spec.types
    rules = [_not_null(c) for c in (*spec.key, *DERIVED_NOT_NULL.get(spec.asset, ()))]
    rules += [_bounds(c, 0, 100) for c in SCORE_COLUMNS if c in columns]
    rules += [_bounds(c, 0, 1) for c in SHARE_COLUMNS if c in columns]
    rules += [_bounds(c, 0, None) for c in COUNT_COLUMNS if c in columns]
    rules += [_not_greater(a, b) for a, b in DERIVED_PAIRS.get(spec.asset, ())]
    return rules


# --------------------------------------------------------------------------- measuring


@dataclass
class Measures:
    """What one aggregate pass found, per day (``None`` for an undated asset)."""

    rows: dict[str | None, int]
    duplicate_keys: dict[str | None, int]
    broken: dict[str | None, dict[str, int]]  # day -> rule name -> rows breaking it
    samples: dict[str, list[str]]  # rule name (or CHECK_UNIQUE_KEY) -> failing keys
    rule_checks: dict[str, str]  # rule name -> the check it belongs to


def _key_text(key: Sequence[str]) -> str:
    parts = ", ".join(f"coalesce(CAST({q(k)} AS STRING), '<null>')" for k in key)
    return f"concat_ws('|', {parts})"


KNOWN_RULE = RowRule(
    CHECK_KNOWN_LOCATIONS,
    "location_id in locations",
    "(location_id IS NOT NULL AND __known IS NULL)",
)


def measure(
    engine: Engine,
    frame: Frame,
    key: Sequence[str],
    rules: list[RowRule],
    known_locations: Frame | None = None,
    day_column: str | None = "date",
    days: Sequence[str] = (),
    sample_size: int = SAMPLE_SIZE,
) -> Measures:
    """Count rows, duplicate keys and each rule's failing rows in one grouped aggregate.

    ``known_locations`` (a relation with ``location_id``) adds the known-locations rule,
    through a join with the small locations table. Failing keys are sampled afterwards, only
    for the rules that failed, in key order. ``days`` (ISO dates) are the run's days: one
    without rows counts 0.
    """
    rules = list(rules)
    source = frame.name
    if known_locations is not None:
        source = (
            f"(SELECT f.*, k.__known FROM {frame.name} f"
            f" LEFT JOIN {logic.known_locations(known_locations.name, '__known')} k"
            " ON f.location_id = k.__known) measured"
        )
        rules.append(KNOWN_RULE)
    rows: dict[str | None, int] = {d: 0 for d in days}
    duplicates: dict[str | None, int] = {d: 0 for d in days}
    broken: dict[str | None, dict[str, int]] = {d: {r.name: 0 for r in rules} for d in days}
    for row in engine.rows(_aggregate(source, key, rules, day_column)):
        found = row["__day"] if day_column else None
        rows[found] = row["__rows"]
        duplicates[found] = row["__rows"] - row["__distinct"]
        broken[found] = {rule.name: row[f"__r{i}"] for i, rule in enumerate(rules)}
    failed = [rule for rule in rules if any(by_rule[rule.name] for by_rule in broken.values())]
    samples = {
        rule.name: _sample(engine, f"FROM {source} WHERE {rule.broken}", key, sample_size)
        for rule in failed
    }
    if any(duplicates.values()):
        grouped = f"FROM {frame.name} GROUP BY {_keys(key)} HAVING count(*) > 1"
        samples[CHECK_UNIQUE_KEY] = _sample(engine, grouped, key, sample_size, distinct=False)
    return Measures(
        rows=rows,
        duplicate_keys=duplicates,
        broken=broken,
        samples=samples,
        rule_checks={rule.name: rule.check for rule in rules},
    )


def _keys(key: Sequence[str]) -> str:
    return ", ".join(map(q, key))


def _aggregate(
    source: str, key: Sequence[str], rules: list[RowRule], day_column: str | None
) -> str:
    """Rows, distinct keys and each rule's failing rows (``__r<i>``), per day; an undated
    asset is one global aggregate: one row even when there are no rows."""
    day = f"CAST({q(day_column)} AS STRING)" if day_column else "CAST(NULL AS STRING)"
    group = f" GROUP BY {day}" if day_column else ""
    # Distinct keys as structs: a key with a null part is still a key (count(DISTINCT a, b)
    # skips such a row, which would then count as a duplicate).
    distinct = f"count(DISTINCT struct({_keys(key)}))"
    counts = "".join(
        f", count(CASE WHEN {rule.broken} THEN 1 END) AS __r{i}" for i, rule in enumerate(rules)
    )
    return (
        f"SELECT {day if day_column else f'max({day})'} AS __day,"
        f" count(*) AS __rows, {distinct} AS __distinct{counts}"
        f" FROM {source}{group}"
    )


def _sample(
    engine: Engine, rows: str, key: Sequence[str], size: int, distinct: bool = True
) -> list[str]:
    """The first ``size`` keys (as text, in order) of ``rows`` (a query's FROM clause on)."""
    found = engine.rows(
        f"SELECT {'DISTINCT ' if distinct else ''}{_key_text(key)} AS k {rows} ORDER BY k"
        f" LIMIT {size}"
    )
    return [r["k"] for r in found]


# --------------------------------------------------------------------------- judging


def _row_checks(measures: Measures, names: Sequence[str]) -> list[CheckResult]:
    rule_checks = measures.rule_checks
    results = []
    for name in names:
        if name == CHECK_UNIQUE_KEY:
            failing = {d: n for d, n in measures.duplicate_keys.items() if n}
            metadata = {"duplicate_rows": sum(failing.values())}
            samples = measures.samples.get(CHECK_UNIQUE_KEY, [])
        else:
            rules = [r for r, check in rule_checks.items() if check == name]
            by_rule = {r: sum(counts[r] for counts in measures.broken.values()) for r in rules}
            failing = {
                d: sum(counts[r] for r in rules)
                for d, counts in measures.broken.items()
                if any(counts[r] for r in rules)
            }
            metadata = {
                "failing_rows": sum(by_rule.values()),
                "failures_by_rule": {r: n for r, n in by_rule.items() if n},
                "rules": rules,
            }
            samples = sorted({k for r in rules for k in measures.samples.get(r, [])})
        metadata["rows"] = sum(measures.rows.values())
        if failing:
            metadata["sample_keys"] = samples[:SAMPLE_SIZE]
            if None not in failing:
                metadata["failing_days"] = sorted(failing)
        results.append(CheckResult(name, not failing, metadata))
    return results


def reject_rate_check(
    read_by_day: Mapping[str | None, int],
    rejected_by_day: Mapping[str | None, int],
    max_rate: float,
    sample: Callable[[], list[str]] = list,
) -> CheckResult:
    """Rejected rows / rows read, per day; fails when any day is above ``max_rate``.

    ``sample`` names a few rejected rows (file, row, rule); it is called only on failure.
    """
    rates = {
        day: (rejected_by_day.get(day, 0) / read) if read else 0.0
        for day, read in read_by_day.items()
    }
    failing = sorted(str(d) for d, rate in rates.items() if rate > max_rate)
    read, rejected = sum(read_by_day.values()), sum(rejected_by_day.values())
    metadata = {
        "rows_read": read,
        "rows_rejected": rejected,
        "reject_rate": round(rejected / read, 6) if read else 0.0,
        "max_reject_rate": max_rate,
    }
    if failing:
        metadata["failing_days"] = failing
        metadata["reject_rate_by_day"] = {str(d): round(rates[d], 6) for d in rates}
        metadata["sample_rejects"] = sample()
    return CheckResult(CHECK_REJECT_RATE, not failing, metadata)


def row_count_check(rows_by_day: Mapping[str | None, int], history: Sequence[float]) -> CheckResult:
    """Rows per day against the median of recent materializations' rows per day."""
    if not history:
        return CheckResult(
            CHECK_ROW_COUNT, True, {"rows": sum(rows_by_day.values()), "history": "none yet"}
        )
    median = statistics.median(history)
    low, high = median * ROW_COUNT_MIN_RATIO, median * ROW_COUNT_MAX_RATIO
    failing = {str(d): n for d, n in rows_by_day.items() if not low <= n <= high}
    metadata = {
        "rows": sum(rows_by_day.values()),
        "history_median_rows_per_day": median,
        "history_materializations": len(history),
        "allowed_rows_per_day": f"{low:g}..{high:g}",
    }
    if failing:
        metadata["failing_days"] = failing
    return CheckResult(CHECK_ROW_COUNT, not failing, metadata)


def schema_check(
    drift: Mapping[str, list[str]], absent_optional: Mapping[str, list[str]]
) -> CheckResult:
    """Warns when a raw file had columns the contract does not list, or lacked optional ones."""
    metadata = {
        "extra_columns_by_file": dict(drift),
        "absent_optional_by_file": dict(absent_optional),
    }
    return CheckResult(CHECK_SCHEMA, not drift and not absent_optional, metadata)


def evaluate(
    measures: Measures,
    names: Sequence[str],
    history: Sequence[float] = (),
    reject: CheckResult | None = None,
    schema: CheckResult | None = None,
) -> list[CheckResult]:
    """Every check in ``names``, in order, from the measures and the job's own counts."""
    extra = {CHECK_ROW_COUNT: row_count_check(measures.rows, history)}
    if reject is not None:
        extra[CHECK_REJECT_RATE] = reject
    if schema is not None:
        extra[CHECK_SCHEMA] = schema
    row = {r.name: r for r in _row_checks(measures, [n for n in names if n not in extra])}
    return [extra.get(name) or row[name] for name in names]


def sample_rejects(engine: Engine, rejects: Frame, size: int = SAMPLE_SIZE) -> list[str]:
    """A few rejected rows as "<file> row <n>: <rule>", in file order."""
    first = engine.rows(logic.first_rejects(rejects.name, size))
    return [f"{r['_source_file']} row {r['_row']}: {r['_reject_rule']}" for r in first]


def rows_per_day(measures: Measures) -> float:
    """This run's rows per day (rows of an undated asset), recorded for later row-count checks."""
    days = len(measures.rows) or 1
    return round(sum(measures.rows.values()) / days, 3)
