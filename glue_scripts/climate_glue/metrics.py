"""The derived-metric formulas of the data contract (section 2), on an engine's relations.

Inputs are the processed relations (typed, contract columns). A null input counts as 0 unless
the contract says otherwise. Scores are rounded half away from zero to 2 decimals, and later
formulas use the rounded values. The formulas are SQL in ``logic.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import logic
from .contract import HEALTH_RISKS, HOSPITAL_RESOURCES, RESILIENCE_SCORES
from .engines import Engine, Frame


def health_risks(
    engine: Engine, climate: Frame, health: Frame, locations: Frame, cache: bool = False
) -> Frame:
    """climate_data ⋈ health_data ⋈ locations (inner joins on location_id, date)."""
    return engine.sql(logic.health_risks(climate.name, health.name, locations.name), cache)


def hospital_resources(
    engine: Engine, hospital: Frame, locations: Frame, dates: Frame, cache: bool = False
) -> Frame:
    """Every location x every date of ``dates`` (a relation with one ``date`` column)."""
    return engine.sql(logic.hospital_resources(hospital.name, locations.name, dates.name), cache)


def resilience_scores(engine: Engine, risks: Frame, resources: Frame, cache: bool = False) -> Frame:
    """health_risks ⋈ hospital_resources (inner join on location_id, date)."""
    return engine.sql(logic.resilience_scores(risks.name, resources.name), cache)


def suppress_small_counts(
    engine: Engine, frame: Frame, suppress: Mapping[str, Sequence[str]]
) -> Frame:
    """Privacy for shared outputs (contract section 4), by the asset's rule ``suppress``
    (``Derived.suppress``: count column -> the columns computed from it): a count of 1..10 and
    the columns computed from it become null, and the row is flagged ``suppressed``. 0 and
    >= 11 are shown."""
    return engine.sql(logic.suppress_small_counts(frame.name, frame.columns, suppress))


def derive(
    engine: Engine, climate: Frame, health: Frame, hospital: Frame, locations: Frame, dates: Frame
) -> dict[str, Frame]:
    """The three derived datasets by asset name, each kept (its outputs all read it)."""
    risks = health_risks(engine, climate, health, locations, cache=True)
    resources = hospital_resources(engine, hospital, locations, dates, cache=True)
    return {
        HEALTH_RISKS.asset: risks,
        HOSPITAL_RESOURCES.asset: resources,
        RESILIENCE_SCORES.asset: resilience_scores(engine, risks, resources, cache=True),
    }
