"""The privacy rule (contract section 4) is one field of the contract, ``suppress``: every
place that shares an asset reads it from there (the job's exports, the shared Athena tables,
``climate-assets export``: ``tests/dagster/test_export.py``)."""

from __future__ import annotations

from dataclasses import replace

from climate_glue import contract
from climate_glue.contract import ASSETS, DERIVED, HOSPITAL_RESOURCES, RAW_DATASETS

from climate_assets.defs.athena.assets import shared_table_specs
from climate_assets.resources.athena import contract_types


def test_each_rule_names_a_count_and_columns_of_its_asset():
    for spec in ASSETS.values():
        types = spec.output_types
        for count, computed in spec.suppress.items():
            assert types.get(count) == "long", f"{spec.asset}: {count} is not a count column"
            assert all(c in types for c in computed), f"{spec.asset}: {computed}"
    assert ASSETS["health_risks"].suppress == {"case_total": ("cases_per_100k",)}
    assert {s.asset for s in DERIVED if s.suppress} == {"health_risks"}
    assert len({d: d.asset for d in RAW_DATASETS.values()}) == 4  # datasets stay hashable


def test_a_shared_athena_table_has_the_suppressed_flag_exactly_when_its_asset_has_a_rule(
    monkeypatch,
):
    def flagged() -> set[str]:
        return {t.name for t in shared_table_specs() if "suppressed" in contract_types(t)}

    assert flagged() == {"health_risks"}
    rule = {"hospital_count": ("beds_per_1k",)}
    monkeypatch.setitem(
        contract.ASSETS, HOSPITAL_RESOURCES.asset, replace(HOSPITAL_RESOURCES, suppress=rule)
    )
    assert flagged() == {"health_risks", "hospital_resources"}
