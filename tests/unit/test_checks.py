"""The asset checks' computations (climate_glue.checks) on tiny typed frames, run on the DuckDB
engine (the ``engine`` fixture)."""

from __future__ import annotations

from datetime import date

from climate_glue.checks import (
    CHECK_KNOWN_LOCATIONS,
    CHECK_NOT_NULL,
    CHECK_REJECT_RATE,
    CHECK_ROW_COUNT,
    CHECK_SCHEMA,
    CHECK_UNIQUE_KEY,
    CHECK_VALUES_IN_RANGE,
    QualityConfig,
    check_names,
    dataset_rules,
    derived_rules,
    evaluate,
    measure,
    reject_rate_check,
    row_count_check,
    rows_per_day,
    schema_check,
)
from climate_glue.contract import (
    CLIMATE,
    HOSPITAL_RESOURCES,
    LOCATIONS,
    RESILIENCE_SCORES,
    SPARK_TYPES,
)

D1, D2 = date(2024, 7, 1), date(2024, 7, 2)
CLIMATE_DDL = (
    "location_id string, date date, temp_max_c double, temp_min_c double,"
    " precipitation_mm double, humidity_pct double, wind_speed_ms double, aqi int"
)


def _by_name(results):
    return {r.name: r for r in results}


def test_clean_climate_frame_passes_every_row_check(engine):
    frame = engine.frame(
        [("A", D1, 30.0, 20.0, 0.0, 50.0, 1.0, 40), ("B", D1, 25.0, 25.0, None, None, None, None)],
        CLIMATE_DDL,
    )
    known = engine.frame([("A",), ("B",)], "location_id string")
    names = check_names(CLIMATE)
    m = measure(engine, frame, CLIMATE.key, dataset_rules(CLIMATE), known, "date", [D1.isoformat()])
    results = _by_name(evaluate(m, names, history=[2.0]))
    assert [r.name for r in evaluate(m, names)][:4] == [
        CHECK_UNIQUE_KEY,
        CHECK_NOT_NULL,
        CHECK_VALUES_IN_RANGE,
        CHECK_KNOWN_LOCATIONS,
    ]
    for name in (CHECK_UNIQUE_KEY, CHECK_NOT_NULL, CHECK_VALUES_IN_RANGE, CHECK_KNOWN_LOCATIONS):
        assert results[name].passed, results[name].metadata
    assert results[CHECK_ROW_COUNT].passed
    assert rows_per_day(m) == 2.0


def test_failing_rows_are_counted_per_rule_with_sample_keys_and_days(engine):
    frame = engine.frame(
        [
            ("A", D1, 30.0, 20.0, 0.0, None, None, None),
            ("A", D1, 31.0, 20.0, 0.0, None, None, None),  # duplicate key on D1
            ("B", D1, 20.0, 25.0, 0.0, None, None, None),  # temp_min > temp_max
            ("C", D2, 75.0, 20.0, -1.0, None, None, 900),  # three range rules broken
            ("Z", D2, 30.0, 20.0, 0.0, None, None, None),  # unknown location
            (None, D2, 30.0, None, 0.0, None, None, None),  # two required values missing
        ],
        CLIMATE_DDL,
    )
    known = engine.frame([("A",), ("B",), ("C",)], "location_id string")
    days = [D1.isoformat(), D2.isoformat()]
    m = measure(engine, frame, CLIMATE.key, dataset_rules(CLIMATE), known, "date", days)
    results = _by_name(evaluate(m, check_names(CLIMATE)))

    unique = results[CHECK_UNIQUE_KEY]
    assert not unique.passed
    assert unique.metadata["duplicate_rows"] == 1
    assert unique.metadata["sample_keys"] == ["A|2024-07-01"]
    assert unique.metadata["failing_days"] == ["2024-07-01"]

    ranges = results[CHECK_VALUES_IN_RANGE]
    assert not ranges.passed
    assert ranges.metadata["failures_by_rule"] == {
        "temp_max_c in -90..60": 1,
        "temp_min_c <= temp_max_c": 1,
        "precipitation_mm >= 0": 1,
        "aqi in 0..500": 1,
    }
    assert ranges.metadata["failing_rows"] == 4
    assert ranges.metadata["sample_keys"] == ["B|2024-07-01", "C|2024-07-02"]
    assert ranges.metadata["failing_days"] == ["2024-07-01", "2024-07-02"]

    nulls = results[CHECK_NOT_NULL]
    assert nulls.metadata["failures_by_rule"] == {
        "location_id not null": 1,
        "temp_min_c not null": 1,
    }
    assert nulls.metadata["sample_keys"] == ["<null>|2024-07-02"]

    known_check = results[CHECK_KNOWN_LOCATIONS]
    assert not known_check.passed
    assert known_check.metadata["failing_rows"] == 1
    assert known_check.metadata["sample_keys"] == ["Z|2024-07-02"]
    assert known_check.metadata["failing_days"] == ["2024-07-02"]


def test_a_day_without_rows_counts_zero_and_fails_the_row_count_against_history(engine):
    frame = engine.frame([("A", D1, 30.0, 20.0, 0.0, None, None, None)], CLIMATE_DDL)
    m = measure(engine, frame, CLIMATE.key, [], None, "date", [D1.isoformat(), D2.isoformat()])
    assert m.rows == {"2024-07-01": 1, "2024-07-02": 0}
    result = row_count_check(m.rows, [1.0, 1.0, 2.0])
    assert not result.passed
    assert result.metadata["failing_days"] == {"2024-07-02": 0}
    assert result.metadata["history_median_rows_per_day"] == 1.0


def test_row_count_bounds_and_no_history():
    assert row_count_check({"d": 50}, [100, 100]).passed  # exactly half
    assert not row_count_check({"d": 49}, [100, 100]).passed
    assert row_count_check({"d": 200}, [100]).passed  # exactly twice
    assert not row_count_check({"d": 201}, [100]).passed
    first = row_count_check({"d": 0}, [])
    assert first.passed and first.metadata["history"] == "none yet"


def test_reject_rate_threshold_is_per_day():
    ok = reject_rate_check({"d1": 100, "d2": 100}, {"d1": 1}, 0.01)
    assert ok.passed and ok.metadata["reject_rate"] == 0.005
    bad = reject_rate_check({"d1": 100, "d2": 100}, {"d2": 2}, 0.01, lambda: ["f row 1: r"])
    assert not bad.passed
    assert bad.metadata["failing_days"] == ["d2"]
    assert bad.metadata["rows_rejected"] == 2 and bad.metadata["rows_read"] == 200
    assert bad.name == CHECK_REJECT_RATE and bad.severity == "ERROR"
    assert bad.metadata["sample_rejects"] == ["f row 1: r"]
    assert "sample_rejects" not in ok.metadata


def test_schema_check_warns_on_drift():
    clean = schema_check({}, {})
    assert clean.passed
    drift = schema_check({"raw/climate/date=2024-07-01/a.csv": ["station"]}, {})
    assert not drift.passed and drift.severity == "WARN" and drift.name == CHECK_SCHEMA
    assert drift.metadata["extra_columns_by_file"] == {
        "raw/climate/date=2024-07-01/a.csv": ["station"]
    }


def test_derived_rules_bound_scores_shares_and_beds(engine):
    ddl = ", ".join(f"{c} {SPARK_TYPES[t]}" for c, t in HOSPITAL_RESOURCES.types.items())
    good = ("A", D1, 1, 100, 50, 10, 5, 50, 0.5, 1.0, 3.0, 1.0, 0.0, 42.0)
    bad = ("B", D1, 1, 100, 150, 10, 5, -50, 1.5, 1.0, 3.0, 1.0, 0.0, 142.0)
    frame = engine.frame([good, bad], ddl)
    known = engine.frame([("A",), ("B",)], "location_id string")
    m = measure(engine, frame, HOSPITAL_RESOURCES.key, derived_rules(HOSPITAL_RESOURCES), known)
    ranges = _by_name(evaluate(m, check_names(HOSPITAL_RESOURCES)))[CHECK_VALUES_IN_RANGE]
    assert ranges.metadata["failures_by_rule"] == {
        "capacity_score in 0..100": 1,
        "occupancy_rate in 0..1": 1,
        "beds_occupied <= total_beds": 1,
    }
    assert ranges.metadata["sample_keys"] == ["B|2024-07-01"]
    assert "resilience_score in 0..100" in {r.name for r in derived_rules(RESILIENCE_SCORES)}


def test_check_names_per_asset_and_quality_config_round_trip():
    assert CHECK_KNOWN_LOCATIONS not in check_names(LOCATIONS)
    assert CHECK_REJECT_RATE in check_names(CLIMATE)
    assert CHECK_REJECT_RATE not in check_names(RESILIENCE_SCORES)
    config = QualityConfig(max_reject_rate=0.05, row_history={"climate_data": [3.0, 4.0]})
    assert QualityConfig.from_json(config.to_json()) == config
    assert QualityConfig.from_json(None) == QualityConfig()


def test_every_dated_asset_has_the_daily_freshness_policy_and_nothing_else_does():
    from climate_assets.constants import CLIMATE_DATA, DERIVED_ASSETS, HEALTH_DATA, HOSPITAL_DATA
    from climate_assets.definitions import build_definitions
    from climate_assets.defs.quality.freshness import DAILY_FRESHNESS
    from climate_assets.settings import Settings

    defs = build_definitions(Settings.from_env())
    policies = {node.key: node.freshness_policy for node in defs.resolve_asset_graph().asset_nodes}
    dated = {CLIMATE_DATA, HEALTH_DATA, HOSPITAL_DATA, *DERIVED_ASSETS}
    assert {key for key, policy in policies.items() if policy is not None} == dated
    assert {policies[key] for key in dated} == {DAILY_FRESHNESS}


def test_audit_holds_back_the_days_its_blocking_checks_name():
    from datetime import date

    from climate_glue.checks import CheckResult
    from climate_glue.write_audit_publish import audit

    d1, d2, d3 = date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)
    days = [d1, d2, d3]
    passed = CheckResult("unique_key", True)
    drift = CheckResult("schema_unchanged", False)  # WARN: never holds anything back
    assert audit({"a": [passed, drift]}, days).passed
    rate = CheckResult("reject_rate", False, {"failing_days": ["2024-07-02"], "rows_read": 7})
    count = CheckResult("row_count", False, {"failing_days": {"2024-07-03": 0}})
    verdict = audit({"a": [rate, drift], "b": [count]}, days)
    assert verdict.held == {d2, d3} and not verdict.everything
    assert verdict.publish_days(days) == [d1]
    assert verdict.check_names == ["a:reject_rate", "b:row_count"]
    assert verdict.describe("job") == (
        "job: blocking check(s) failed on the staged output, not published: 2024-07-02,"
        " 2024-07-03: a:reject_rate (failing_days=['2024-07-02'], rows_read=7);"
        " b:row_count (failing_days={'2024-07-03': 0})"
    )
    unnamed = audit({"a": [CheckResult("unique_key", False, {"duplicate_rows": 2})]}, days)
    assert unnamed.everything and unnamed.publish_days(days) == []
    undated = audit({"locations": [CheckResult("row_count", False)]}, None)
    assert undated.everything and undated.publish_days(None) is None
