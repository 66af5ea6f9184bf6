"""The UI's columns: every asset of the code location carries its column schema from the
contract, and every asset built from others its column lineage, read from the SQL of the
formulas (``climate_assets.defs.columns``)."""

from __future__ import annotations

import dagster as dg
import pytest
from climate_glue.contract import DERIVED, HIVE_TYPES, RAW_DATASETS

from climate_assets.constants import athena_shared_table_key, athena_table_key
from climate_assets.definitions import build_definitions
from climate_assets.defs.athena.assets import shared_table_specs, table_specs
from climate_assets.defs.columns import COLUMN_LINEAGE, COLUMN_SCHEMA, traced
from climate_assets.resources.athena import glue_table_input
from climate_assets.settings import Settings

CONTRACT = {spec.asset: spec for spec in (*RAW_DATASETS.values(), *DERIVED)}
TABLES = {
    **{athena_table_key(dg.AssetKey(t.name)): t for t in table_specs()},
    **{athena_shared_table_key(dg.AssetKey(t.name)): t for t in shared_table_specs()},
}
HEALTH_COUNTS = {
    ("health_data", c)
    for c in (
        "heat_illness_cases",
        "respiratory_cases",
        "cardiovascular_cases",
        "waterborne_cases",
        "vector_borne_cases",
    )
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    settings = Settings.from_env()
    settings = Settings(**{**settings.__dict__, "state_dir": state, "lake_root": state / "lake"})
    return build_definitions(settings).resolve_asset_graph()


def _schema(graph, key: dg.AssetKey) -> dg.TableSchema:
    entry = graph.get(key).metadata.get(COLUMN_SCHEMA)
    assert isinstance(entry, dg.TableSchemaMetadataValue), f"{key.to_user_string()}: no schema"
    return entry.schema


def _lineage(graph, key: dg.AssetKey) -> dict[str, set[tuple[str, str]]]:
    entry = graph.get(key).metadata.get(COLUMN_LINEAGE)
    assert entry is not None, f"{key.to_user_string()}: no column lineage"
    return {
        column: {(dep.asset_key.to_user_string(), dep.column_name) for dep in deps}
        for column, deps in entry.column_lineage.deps_by_column.items()
    }


def test_every_asset_has_a_schema_and_there_is_none_the_contract_does_not_name(graph):
    keys = set(graph.get_all_asset_keys())
    assert keys == {dg.AssetKey(name) for name in CONTRACT} | set(TABLES)
    for key in keys:
        assert _schema(graph, key).columns


@pytest.mark.parametrize("asset", sorted(CONTRACT))
def test_lake_and_postgres_columns_are_the_contracts_output_columns_with_the_key(graph, asset):
    spec = CONTRACT[asset]
    schema = _schema(graph, dg.AssetKey(asset))
    assert [(c.name, c.type) for c in schema.columns] == list(spec.output_types.items())
    for column in schema.columns:
        assert column.description and column.description.strip(), column.name
        in_key = column.name in spec.key
        assert in_key == ("primary key" in column.constraints.other)
        if in_key:
            assert not column.constraints.nullable
    assert schema.constraints.other == [f"primary key: {', '.join(spec.key)}"]


def test_raw_rules_and_required_values_show_with_the_processed_columns(graph):
    columns = {c.name: c for c in _schema(graph, dg.AssetKey("locations")).columns}
    assert columns["location_id"].constraints.unique  # a key of one column
    assert columns["latitude"].description.endswith("Rule: -90..90.")
    assert columns["population"].description.endswith("Rule: > 0.")
    assert "optional in the header" in columns["elevation_m"].description
    assert not columns["name"].constraints.nullable
    assert columns["state"].constraints.nullable
    hospital = {c.name: c for c in _schema(graph, dg.AssetKey("hospital_data")).columns}
    assert not hospital["date"].constraints.unique  # one of a key of two
    assert hospital["beds_occupied"].description.endswith("Rule: >= 0; <= total_beds.")


@pytest.mark.parametrize("key", sorted(TABLES), ids=lambda k: k.to_user_string())
def test_athena_columns_are_the_ones_the_glue_catalog_table_declares(graph, key):
    table = TABLES[key]
    declared = glue_table_input(table, "s3://lake/x/", 2020, 2030)
    expected = [
        (c["Name"], c["Type"])
        for c in (*declared["StorageDescriptor"]["Columns"], *declared["PartitionKeys"])
    ]
    schema = _schema(graph, key)
    assert [(c.name, c.type) for c in schema.columns] == expected
    assert all(c.description for c in schema.columns)
    assert {c.type for c in schema.columns} <= set(HIVE_TYPES.values())
    # Every column of the table comes from its asset (a partition from date, the flag from
    # case_total), so each has lineage.
    assert set(_lineage(graph, key)) == {c.name for c in schema.columns}


def test_resilience_score_is_computed_from_the_columns_its_formula_names(graph):
    # Contract: round(clip(0.45*capacity_score + 0.45*(100 - health_risk_index)
    #                      + 10*(1 - flood_exposed_share), 0, 100), 2)
    lineage = _lineage(graph, dg.AssetKey("resilience_scores"))
    assert lineage["resilience_score"] == {
        ("health_risks", "health_risk_index"),
        ("hospital_resources", "capacity_score"),
        ("hospital_resources", "flood_exposed_share"),
    }
    # The category is banded from the score: the same columns, one step further.
    assert lineage["resilience_category"] == lineage["resilience_score"]
    assert lineage["risk_level"] == {("health_risks", "risk_level")}
    assert lineage["_source_file"] == {("health_risks", "date")}  # date=YYYY-MM-DD


def test_the_indices_are_computed_from_the_processed_columns_their_formulas_name(graph):
    risks = _lineage(graph, dg.AssetKey("health_risks"))
    climate = {("climate_data", c) for c in ("temp_max_c", "aqi", "precipitation_mm")}
    assert risks["climate_hazard"] == climate
    assert risks["case_total"] == HEALTH_COUNTS
    assert risks["health_risk_index"] == climate | HEALTH_COUNTS | {("locations", "population")}
    assert risks["inputs_complete"] == {
        ("climate_data", "aqi"),
        ("climate_data", "precipitation_mm"),
    }
    resources = _lineage(graph, dg.AssetKey("hospital_resources"))
    assert resources["capacity_score"] == {
        ("hospital_data", "total_beds"),
        ("hospital_data", "beds_occupied"),
        ("hospital_data", "icu_beds"),
        ("hospital_data", "has_backup_power"),
        ("locations", "population"),
    }
    assert resources["flood_exposed_share"] == {
        ("hospital_data", "in_flood_zone"),
        ("hospital_data", "total_beds"),
    }


def test_only_counts_and_run_values_have_no_upstream_column(graph):
    """Every other derived column is traced to something: a formula that stopped resolving its
    inputs (a renamed CTE column, an unknown relation) would lose its lineage here."""
    without = {
        (spec.asset, column)
        for spec in DERIVED
        for column in spec.output_types
        if column not in _lineage(graph, dg.AssetKey(spec.asset))
    }
    assert without == {
        *((spec.asset, c) for spec in DERIVED for c in ("_processed_at", "_run_id")),
        ("hospital_resources", "hospital_count"),  # count(*) of hospital_data rows
        ("hospital_resources", "date"),  # every day of the run, hospitals or not
        ("hospital_resources", "_source_file"),  # date=<that day>
    }


def test_lineage_points_at_upstream_assets_and_columns_that_exist(graph):
    for key in graph.get_all_asset_keys():
        if COLUMN_LINEAGE not in graph.get(key).metadata:
            continue
        upstream = graph.get(key).parent_keys
        for column, deps in _lineage(graph, key).items():
            for asset, name in deps:
                dep = dg.AssetKey.from_user_string(asset)
                assert dep in upstream, f"{key.to_user_string()}.{column} <- {asset}.{name}"
                assert name in {c.name for c in _schema(graph, dep).columns}


def test_tracing_follows_subqueries_to_the_columns_read():
    found = traced(
        "SELECT s.total, t.location_id FROM (SELECT location_id, population * 2 AS total"
        " FROM locations) s JOIN climate_data t ON s.location_id = t.location_id"
    )
    assert found == {
        "total": {("locations", "population")},
        "location_id": {("climate_data", "location_id")},
    }
