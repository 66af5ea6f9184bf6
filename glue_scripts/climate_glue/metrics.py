"""The derived-metric formulas of the data contract (section 2), on an engine's relations.

Inputs are the processed relations (typed, contract columns). A null input counts as 0 unless
the contract says otherwise. Scores are rounded half away from zero to 2 decimals, and later
formulas use the rounded values. The formulas are SQL in ``logic.py``.
"""

from __future__ import annotations

from . import logic
from .contract import HEALTH_RISKS, HOSPITAL_RESOURCES, RESILIENCE_SCORES
from .engines import Engine, Frame


def health_risks(engine: Engine, climate: Frame, health: Frame, locations: Frame) -> Frame:
    """climate_data ⋈ health_data ⋈ locations (inner joins on location_id, date)."""
    return engine.sql(logic.health_risks(climate.name, health.name, locations.name))


def hospital_resources(engine: Engine, hospital: Frame, locations: Frame, dates: Frame) -> Frame:
    """Every location x every date of ``dates`` (a relation with one ``date`` column)."""
    return engine.sql(logic.hospital_resources(hospital.name, locations.name, dates.name))


def resilience_scores(engine: Engine, risks: Frame, resources: Frame) -> Frame:
    """health_risks ⋈ hospital_resources (inner join on location_id, date)."""
    return engine.sql(logic.resilience_scores(risks.name, resources.name))


def suppress_small_counts(engine: Engine, frame: Frame) -> Frame:
    """Privacy for shared outputs (contract section 4): a case_total of 1..10 and the rate
    computed from it become null, and the row is flagged ``suppressed``. 0 and >= 11 are shown."""
    return engine.sql(logic.suppress_small_counts(frame.name, frame.columns))


def derive(
    engine: Engine, climate: Frame, health: Frame, hospital: Frame, locations: Frame, dates: Frame
) -> dict[str, Frame]:
    """The three derived datasets by asset name, each kept (its outputs all read it)."""
    risks = engine.sql(logic.health_risks(climate.name, health.name, locations.name), True)
    resources = engine.sql(
        logic.hospital_resources(hospital.name, locations.name, dates.name), True
    )
    scores = engine.sql(logic.resilience_scores(risks.name, resources.name), True)
    return {
        HEALTH_RISKS.asset: risks,
        HOSPITAL_RESOURCES.asset: resources,
        RESILIENCE_SCORES.asset: scores,
    }
