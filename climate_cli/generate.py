"""Deterministic sample landing zone for the pipeline (data contract section 1).

``generate_landing_zone`` writes, under a lake root, exactly the contract's raw layout::

    raw/locations/locations.csv
    raw/climate/date=YYYY-MM-DD/climate.csv     one row per location per day
    raw/health/date=YYYY-MM-DD/health.csv       one row per location per day
    raw/hospital/date=YYYY-MM-DD/hospital.csv   one row per hospital per day

for ``days`` consecutive days from ``start``. Files are UTF-8 CSV, comma-delimited with ``\\n``
line endings and a header of every contract column (optional ones included) in contract order.

The data is synthetic but shaped like the real thing, and every value satisfies the contract,
so a correct pipeline rejects nothing:

- locations look like US counties: 5-digit FIPS-style ids with the real state prefix (``"06037"``),
  coordinates inside the state's bounding box, a heavy-tailed (lognormal) population. Past the
  47,952 county codes (benchmark volumes), the rest are places within counties: 8-digit ids
  (county id and place number, ``"06037012"``) named after their county ("Adams Township 12").
- climate is seasonal (summer peak mid-July) and warmer to the south, with persistent day-to-day
  anomalies; precipitation and AQI are right-skewed with occasional heavy rain and smoke spikes.
- health counts are Poisson with rates scaled by population; heat illness rises with temperature
  above 27 C, respiratory cases with AQI and in winter, so small counties often report 0..10.
- hospitals (1-4 per location, fixed for the run) have CMS-style 6-digit ids (``"010001"``), beds
  scaled with population and a daily occupancy that mostly stays within 0.55..0.95.

The output is a pure function of the arguments: ``numpy.random.default_rng(seed)`` drives every
draw in a fixed order, so the same arguments give byte-identical files. Static data (locations,
hospitals) is drawn first and days are drawn in order, so a shorter run is a prefix of a longer
one with the same ``locations`` and ``seed``. Existing files under other keys are left alone.
"""

from __future__ import annotations

import csv
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from climate_glue.contract import (
    CLIMATE,
    HEALTH,
    HOSPITAL,
    LOCATIONS,
    RAW_PREFIX,
    Dataset,
    date_partition,
)
from climate_glue.lake import LocalLake

__all__ = ["GeneratedLandingZone", "generate_landing_zone"]

# Contiguous US states (the contract's coordinate ranges are met by any of them):
# (state FIPS, postal code, number of counties, lat min, lat max, lon min, lon max).
# Bounding boxes are approximate and clipped to latitude 25..49, longitude -124..-67.
_STATES: tuple[tuple[str, str, int, float, float, float, float], ...] = (
    ("01", "AL", 67, 30.2, 35.0, -88.5, -84.9),
    ("04", "AZ", 15, 31.3, 37.0, -114.8, -109.0),
    ("05", "AR", 75, 33.0, 36.5, -94.6, -89.6),
    ("06", "CA", 58, 32.5, 42.0, -124.0, -114.1),
    ("08", "CO", 64, 37.0, 41.0, -109.1, -102.0),
    ("09", "CT", 8, 41.0, 42.1, -73.7, -71.8),
    ("10", "DE", 3, 38.5, 39.8, -75.8, -75.0),
    ("12", "FL", 67, 25.0, 31.0, -87.6, -80.0),
    ("13", "GA", 159, 30.4, 35.0, -85.6, -80.8),
    ("16", "ID", 44, 42.0, 49.0, -117.2, -111.0),
    ("17", "IL", 102, 37.0, 42.5, -91.5, -87.5),
    ("18", "IN", 92, 37.8, 41.8, -88.1, -84.8),
    ("19", "IA", 99, 40.4, 43.5, -96.6, -90.1),
    ("20", "KS", 105, 37.0, 40.0, -102.1, -94.6),
    ("21", "KY", 120, 36.5, 39.1, -89.6, -81.9),
    ("22", "LA", 64, 29.0, 33.0, -94.0, -89.0),
    ("23", "ME", 16, 43.1, 47.5, -71.1, -67.0),
    ("24", "MD", 24, 37.9, 39.7, -79.5, -75.0),
    ("25", "MA", 14, 41.2, 42.9, -73.5, -69.9),
    ("26", "MI", 83, 41.7, 48.3, -90.4, -82.4),
    ("27", "MN", 87, 43.5, 49.0, -97.2, -89.5),
    ("28", "MS", 82, 30.2, 35.0, -91.7, -88.1),
    ("29", "MO", 115, 36.0, 40.6, -95.8, -89.1),
    ("30", "MT", 56, 44.4, 49.0, -116.0, -104.0),
    ("31", "NE", 93, 40.0, 43.0, -104.1, -95.3),
    ("32", "NV", 17, 35.0, 42.0, -120.0, -114.0),
    ("33", "NH", 10, 42.7, 45.3, -72.6, -70.6),
    ("34", "NJ", 21, 38.9, 41.4, -75.6, -73.9),
    ("35", "NM", 33, 31.3, 37.0, -109.1, -103.0),
    ("36", "NY", 62, 40.5, 45.0, -79.8, -71.9),
    ("37", "NC", 100, 33.8, 36.6, -84.3, -75.5),
    ("38", "ND", 53, 45.9, 49.0, -104.1, -96.6),
    ("39", "OH", 88, 38.4, 42.0, -84.8, -80.5),
    ("40", "OK", 77, 33.6, 37.0, -103.0, -94.4),
    ("41", "OR", 36, 42.0, 46.3, -124.0, -116.5),
    ("42", "PA", 67, 39.7, 42.3, -80.5, -74.7),
    ("44", "RI", 5, 41.1, 42.0, -71.9, -71.1),
    ("45", "SC", 46, 32.0, 35.2, -83.4, -78.5),
    ("46", "SD", 66, 42.5, 45.9, -104.1, -96.4),
    ("47", "TN", 95, 35.0, 36.7, -90.3, -81.6),
    ("48", "TX", 254, 25.8, 36.5, -106.6, -93.5),
    ("49", "UT", 29, 37.0, 42.0, -114.1, -109.0),
    ("50", "VT", 14, 42.7, 45.0, -73.4, -71.5),
    ("51", "VA", 133, 36.5, 39.5, -83.7, -75.2),
    ("53", "WA", 39, 45.5, 49.0, -124.0, -116.9),
    ("54", "WV", 55, 37.2, 40.6, -82.6, -77.7),
    ("55", "WI", 72, 42.5, 47.1, -92.9, -86.8),
    ("56", "WY", 23, 41.0, 45.0, -111.1, -104.1),
)
_COUNTY_CODES_PER_STATE = 999  # county part of the id: 001..999
MAX_COUNTIES = len(_STATES) * _COUNTY_CODES_PER_STATE
# Past every county code, further locations are places within a county (benchmark volumes):
# the county's 5-digit id and a 3-digit place number, e.g. "06037012".
_PLACES_PER_COUNTY = 999
MAX_LOCATIONS = MAX_COUNTIES * (1 + _PLACES_PER_COUNTY)
_MAX_HOSPITALS_PER_LOCATION = 4  # 4 * 999 fits the 4-digit hospital sequence per state
_HOSPITAL_SEQUENCE_DIGITS = (4, 7)  # 7 digits in a state with places (more than 9,999 hospitals)

# fmt: off
_SURNAMES = (
    "Adams", "Benton", "Boone", "Butler", "Calhoun", "Carroll", "Cass", "Clark", "Clay",
    "Crawford", "Douglas", "Fayette", "Franklin", "Fulton", "Grant", "Greene", "Hamilton",
    "Hancock", "Hardin", "Harrison", "Henry", "Houston", "Jackson", "Jefferson", "Johnson",
    "Knox", "Lawrence", "Lee", "Lincoln", "Logan", "Madison", "Marion", "Marshall", "Mercer",
    "Monroe", "Montgomery", "Morgan", "Perry", "Pike", "Polk", "Putnam", "Randolph", "Scott",
    "Shelby", "Sullivan", "Union", "Warren", "Washington", "Wayne", "Wilson",
)
_PREFIXES = (
    "Ash", "Bear", "Cedar", "Clear", "Deer", "Eagle", "Elm", "Fair", "Glen", "Green", "Hawk",
    "Iron", "Lake", "Maple", "Mill", "Oak", "Pine", "Red", "Rock", "Sand", "Silver", "Spring",
    "Stone", "Willow",
)
_SUFFIXES = (
    "brook", "burg", "dale", "field", "ford", "haven", "land", "mont", "port", "ridge", "ton",
    "vale", "view", "ville", "water", "wood",
)
# fmt: on
_NAME_POOL = _SURNAMES + tuple(p + s for p in _PREFIXES for s in _SUFFIXES)
_DIRECTIONS = ("", "North ", "South ", "East ", "West ")
_SAINTS = ("St. Mary's", "St. Joseph's", "St. Luke's", "St. Francis", "Mercy", "Good Samaritan")
_HOSPITAL_KINDS = (
    "Regional Medical Center",
    "Memorial Hospital",
    "Community Hospital",
    "General Hospital",
    "Medical Center",
)

_SUMMER_PEAK_DOY = 196  # about July 15
_YEAR_DAYS = 365.25


@dataclass(frozen=True)
class GeneratedLandingZone:
    """What ``generate_landing_zone`` wrote."""

    root: Path  # the lake root it wrote under
    days: list[date]  # the dates written, in order
    files: list[str]  # lake keys written, e.g. "raw/climate/date=2024-07-01/climate.csv"
    rows: dict[str, int]  # rows written per dataset: locations, climate, health, hospital


@dataclass(frozen=True)
class _Locations:
    location_id: np.ndarray  # str
    name: np.ndarray  # str
    state: np.ndarray  # str
    latitude: np.ndarray
    longitude: np.ndarray
    population: np.ndarray  # int64
    elevation_m: np.ndarray
    # Fixed per-location traits that drive the daily data.
    temp_offset: np.ndarray  # microclimate, degrees C
    dtr_base: np.ndarray  # typical diurnal temperature range, degrees C
    wet_prob: np.ndarray  # chance of a wet day
    humidity_base: np.ndarray
    wind_scale: np.ndarray
    aqi_base: np.ndarray
    smoke_prone: np.ndarray  # bool: western wildfire smoke season
    health_effect: np.ndarray  # multiplicative reporting/health level


@dataclass(frozen=True)
class _Hospitals:
    hospital_id: np.ndarray  # str
    location_index: np.ndarray  # index into the locations arrays
    hospital_name: np.ndarray  # str
    total_beds: np.ndarray  # int64
    icu_beds: np.ndarray  # int64
    has_backup_power: np.ndarray  # bool
    in_flood_zone: np.ndarray  # bool
    occupancy_base: np.ndarray
    icu_occupancy_base: np.ndarray


def generate_landing_zone(
    root: Path, locations: int, days: int, start: date, seed: int
) -> GeneratedLandingZone:
    """Write a sample landing zone under the lake root ``root`` and describe what was written.

    ``locations`` locations (1..MAX_LOCATIONS) and ``days`` consecutive days from ``start``;
    ``seed`` fixes every value. Files under the same keys are overwritten.
    """
    locations = _count_argument("locations", locations)
    days = _count_argument("days", days)
    if locations > MAX_LOCATIONS:
        raise ValueError(f"locations must be at most {MAX_LOCATIONS}, got {locations}")
    if isinstance(start, datetime) or not isinstance(start, date):
        raise TypeError(f"start must be a datetime.date, got {type(start).__name__}")
    last = start.toordinal() + days - 1
    if last > date.max.toordinal():
        raise ValueError(f"{days} days from {start.isoformat()} run past {date.max.isoformat()}")

    root = Path(root)
    rng = np.random.default_rng(seed)
    locs = _make_locations(rng, locations)
    hospitals = _make_hospitals(rng, locs)

    dates = [start + timedelta(days=i) for i in range(days)]
    files = [_write(root, LOCATIONS, None, _locations_columns(locs))]
    rows = {"locations": locations, "climate": 0, "health": 0, "hospital": 0}

    weather = _WeatherState.initial(rng, locations)
    occupancy = _OccupancyState.initial(rng, len(hospitals.hospital_id))
    for day in dates:
        climate = weather.step(rng, locs, day)
        health = _health_columns(rng, locs, day, climate)
        hospital = occupancy.step(rng, hospitals, locs, day)
        for dataset, columns in ((CLIMATE, climate), (HEALTH, health), (HOSPITAL, hospital)):
            files.append(_write(root, dataset, day, columns))
            rows[dataset.name] += len(columns["location_id"])
    return GeneratedLandingZone(root=root, days=dates, files=files, rows=rows)


def _count_argument(name: str, value: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got a bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if number < 1:
        raise ValueError(f"{name} must be >= 1, got {number}")
    return number


# --- static data -----------------------------------------------------------------------------


def _county_codes(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(state index, county code) of ``count`` counties, sorted by state then code.

    Slots with realistic (odd) county codes up to each state's real number of counties come
    first, so small runs look like real FIPS codes; the other codes 001..999 only when needed.
    """
    county_counts = np.array([s[2] for s in _STATES])
    state_of_slot = np.repeat(np.arange(len(_STATES)), county_counts)
    code_of_slot = np.concatenate([np.arange(1, 2 * n, 2) for n in county_counts])
    primary = len(state_of_slot)
    if count <= primary:
        chosen = np.sort(rng.choice(primary, size=count, replace=False))
        state_idx, county = state_of_slot[chosen], code_of_slot[chosen]
    else:
        all_codes = np.arange(1, _COUNTY_CODES_PER_STATE + 1)
        extra_state, extra_code = [], []
        for s, n in enumerate(county_counts):
            rest = all_codes[~np.isin(all_codes, np.arange(1, 2 * n, 2))]
            extra_state.append(np.full(len(rest), s))
            extra_code.append(rest)
        extra_state_arr, extra_code_arr = np.concatenate(extra_state), np.concatenate(extra_code)
        picked = np.sort(rng.choice(len(extra_state_arr), size=count - primary, replace=False))
        state_idx = np.concatenate([state_of_slot, extra_state_arr[picked]])
        county = np.concatenate([code_of_slot, extra_code_arr[picked]])
    order = np.lexsort((county, state_idx))
    return state_idx[order], county[order]


def _add_places(
    location_id: np.ndarray, state_idx: np.ndarray, places: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The counties and ``places`` places spread over them, each place right after its county
    (ids stay sorted, states contiguous): (location id, state index, place number; 0: county).

    Places per county as evenly as the count allows (at most _PLACES_PER_COUNTY each); a
    place's id is its county's and its number (8 digits)."""
    count = len(location_id)
    parent = np.arange(places) % count
    parent.sort(kind="stable")
    first = np.r_[True, parent[1:] != parent[:-1]]
    run_start = np.maximum.accumulate(np.where(first, np.arange(places), 0))
    number = np.arange(places) - run_start + 1
    place_id = np.char.add(
        location_id[parent].astype(str), np.char.zfill(number.astype(str), 3)
    ).astype(object)
    order = np.argsort(np.r_[np.arange(count) * 2, parent * 2 + 1], kind="stable")
    return (
        np.r_[location_id, place_id][order],
        np.r_[state_idx, state_idx[parent]][order],
        np.r_[np.zeros(count, dtype=np.int64), number][order],
    )


def _location_names(
    rng: np.random.Generator, state_idx: np.ndarray, place_number: np.ndarray
) -> np.ndarray:
    """Counties get "<Word> County"; a place is named after its county: "Adams Township 12"."""
    is_county = place_number == 0
    names = np.empty(len(state_idx), dtype=object)
    names[is_county] = _county_names(rng, state_idx[is_county])
    county_of = np.maximum.accumulate(np.where(is_county, np.arange(len(state_idx)), 0))
    town = [n.removesuffix(" County") for n in names[county_of].tolist()]
    names[~is_county] = [
        f"{t} Township {k}"
        for t, k, c in zip(town, place_number.tolist(), is_county.tolist(), strict=True)
        if not c
    ]
    return names


def _make_locations(rng: np.random.Generator, count: int) -> _Locations:
    """Counties: real state prefixes, county codes drawn from each state's real-sized range.

    Past MAX_COUNTIES, every county code is used and the rest are places spread over the
    counties (8-digit ids: county id and place number), for benchmark-sized landing zones.
    """
    places = max(0, count - MAX_COUNTIES)
    state_idx, county = _county_codes(rng, count - places)
    fips = np.array([s[0] for s in _STATES])
    location_id = np.char.add(fips[state_idx], np.char.zfill(county.astype(str), 3)).astype(object)
    place_number = np.zeros(len(location_id), dtype=np.int64)
    if places:
        location_id, state_idx, place_number = _add_places(location_id, state_idx, places)
    state = np.array([s[1] for s in _STATES], dtype=object)[state_idx]

    boxes = np.array([s[3:] for s in _STATES], dtype=float)[state_idx]
    latitude = np.round(rng.uniform(boxes[:, 0], boxes[:, 1]), 4) + 0.0
    longitude = np.round(rng.uniform(boxes[:, 2], boxes[:, 3]), 4) + 0.0

    # Heavy tail like US counties: median ~25k, a few in the millions.
    population = np.clip(np.rint(rng.lognormal(math.log(25_000), 1.3, count)), 1_000, 5_000_000)
    population = population.astype(np.int64)

    # Mountain West high, coastal plains low.
    mountains = 1700.0 * np.exp(-(((longitude + 108.0) / 6.0) ** 2))
    lowland = rng.lognormal(math.log(150.0), 0.7, count)
    elevation = mountains * rng.uniform(0.6, 1.3, count) + lowland
    elevation_m = np.round(np.clip(elevation, 0.0, 3000.0), 1) + 0.0

    names = _location_names(rng, state_idx, place_number)

    # East of ~100 W is wetter and more humid; the arid West has bigger day/night swings.
    east = np.clip((longitude + 112.0) / 25.0, 0.0, 1.0)
    return _Locations(
        location_id=location_id,
        name=names,
        state=state,
        latitude=latitude,
        longitude=longitude,
        population=population,
        elevation_m=elevation_m,
        temp_offset=rng.normal(0.0, 1.0, count),
        dtr_base=14.0 - 4.0 * east + rng.normal(0.0, 0.8, count),
        wet_prob=0.14 + 0.18 * east,
        humidity_base=38.0 + 30.0 * east + rng.normal(0.0, 4.0, count),
        wind_scale=rng.uniform(3.0, 5.5, count),
        aqi_base=rng.lognormal(math.log(36.0), 0.2, count)
        + 4.0 * np.log10(population / 10_000.0).clip(0.0, None),
        smoke_prone=longitude < -104.0,
        health_effect=rng.lognormal(0.0, 0.2, count),
    )


def _county_names(rng: np.random.Generator, state_idx: np.ndarray) -> np.ndarray:
    """A plausible "<Word> County" name per location, unique within its state."""
    names = np.empty(len(state_idx), dtype=object)
    pool = len(_NAME_POOL)
    for s in range(len(_STATES)):
        members = np.flatnonzero(state_idx == s)
        if len(members) == 0:
            continue
        # Plain names while they last; "North ..." etc. only for states with very many locations.
        choices = pool if len(members) <= pool else pool * len(_DIRECTIONS)
        picks = rng.permutation(choices)[: len(members)]
        names[members] = [
            f"{_DIRECTIONS[p // pool]}{_NAME_POOL[p % pool]} County" for p in picks.tolist()
        ]
    return names


def _make_hospitals(rng: np.random.Generator, locs: _Locations) -> _Hospitals:
    """1-4 hospitals per location with beds scaled by population, fixed for the whole run."""
    n_loc = len(locs.location_id)
    log_pop = np.log10(locs.population)
    p_more = np.clip((log_pop - 3.8) / 3.0, 0.05, 0.95)
    per_location = 1 + rng.binomial(_MAX_HOSPITALS_PER_LOCATION - 1, p_more)
    location_index = np.repeat(np.arange(n_loc), per_location)
    n = len(location_index)

    # CMS-style id: 2-digit state code, then a 4-digit sequence within the state.
    state_code = np.array([lid[:2] for lid in locs.location_id.tolist()])[location_index]
    first_of_state = np.r_[True, state_code[1:] != state_code[:-1]]
    run_start = np.maximum.accumulate(np.where(first_of_state, np.arange(n), 0))
    sequence = np.arange(n) - run_start + 1
    # A state's hospital ids share one width: 4 digits, 7 where places push it past 9,999.
    _, state_of, state_sizes = np.unique(state_code, return_inverse=True, return_counts=True)
    short, long = _HOSPITAL_SEQUENCE_DIGITS
    wide = state_sizes[state_of] > 10**short - 1
    text = sequence.astype(str)
    digits = np.where(wide, np.char.zfill(text, long), np.char.zfill(text, short))
    hospital_id = np.char.add(state_code, digits).astype(object)

    # Beds: ~2.4 per 1,000 residents, split unevenly among the location's hospitals.
    beds_per_1k = rng.lognormal(math.log(2.4), 0.35, n_loc)
    target = locs.population / 1000.0 * beds_per_1k
    weights = rng.gamma(2.0, 1.0, n)
    share = weights / np.bincount(location_index, weights=weights)[location_index]
    total_beds = np.maximum(10, np.rint(target[location_index] * share)).astype(np.int64)
    icu_beds = np.rint(total_beds * rng.uniform(0.05, 0.15, n)).astype(np.int64)

    has_backup_power = rng.random(n) < 0.85
    in_flood_zone = rng.random(n) < 0.15

    # Distinct name patterns within a location: consecutive patterns from a random offset.
    town = np.array([name.removesuffix(" County") for name in locs.name.tolist()])
    patterns = len(_HOSPITAL_KINDS) + 1  # the extra pattern: "<Saint> Hospital <town>"
    offset = rng.integers(0, patterns, n_loc)[location_index]
    within = np.arange(n) - np.repeat(np.cumsum(per_location) - per_location, per_location)
    kind = (offset + within) % patterns
    saint = rng.integers(0, len(_SAINTS), n)
    hospital_name = [
        f"{_SAINTS[sv]} Hospital {t}" if k == len(_HOSPITAL_KINDS) else f"{t} {_HOSPITAL_KINDS[k]}"
        for t, k, sv in zip(
            town[location_index].tolist(), kind.tolist(), saint.tolist(), strict=True
        )
    ]

    return _Hospitals(
        hospital_id=hospital_id,
        location_index=location_index,
        hospital_name=np.array(hospital_name, dtype=object),
        total_beds=total_beds,
        icu_beds=icu_beds,
        has_backup_power=has_backup_power,
        in_flood_zone=in_flood_zone,
        occupancy_base=rng.uniform(0.62, 0.86, n),
        icu_occupancy_base=rng.uniform(0.55, 0.85, n),
    )


def _locations_columns(locs: _Locations) -> dict[str, Sequence]:
    return {
        "location_id": locs.location_id,
        "name": locs.name,
        "state": locs.state,
        "latitude": locs.latitude,
        "longitude": locs.longitude,
        "population": locs.population,
        "elevation_m": locs.elevation_m,
    }


# --- daily data ------------------------------------------------------------------------------


def _season(day: date, peak_doy: float) -> float:
    """cos of the day's angle from ``peak_doy``: 1 at the peak, -1 half a year away."""
    doy = day.timetuple().tm_yday
    return math.cos(2.0 * math.pi * (doy - peak_doy) / _YEAR_DAYS)


def _bool_text(values: np.ndarray) -> np.ndarray:
    return np.where(values, "true", "false").astype(object)


def _round1(values: np.ndarray) -> np.ndarray:
    return np.round(values, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass
class _WeatherState:
    """Day-to-day persistence: temperature anomaly (AR(1)) and yesterday's rain."""

    anomaly: np.ndarray
    wet: np.ndarray

    @classmethod
    def initial(cls, rng: np.random.Generator, n: int) -> _WeatherState:
        return cls(anomaly=rng.normal(0.0, 3.0, n), wet=np.zeros(n, dtype=bool))

    def step(self, rng: np.random.Generator, locs: _Locations, day: date) -> dict[str, Sequence]:
        n = len(locs.location_id)
        lat = locs.latitude
        summer = _season(day, _SUMMER_PEAK_DOY)

        # Daily max: ~29 C mean with a small swing in south Florida, ~12 C mean with a large
        # swing at the Canadian border; lapse rate 6.5 C/km.
        annual_mean = 29.0 - 0.85 * (lat - 25.0)
        amplitude = 4.5 + 0.6 * (lat - 25.0)
        self.anomaly = 0.65 * self.anomaly + rng.normal(0.0, 3.0 * math.sqrt(1 - 0.65**2), n)
        temp_max = (
            annual_mean
            + amplitude * summer
            - 0.0065 * locs.elevation_m
            + locs.temp_offset
            + self.anomaly
            + rng.normal(0.0, 1.2, n)
        )
        temp_max = _round1(np.clip(temp_max, -45.0, 52.0))

        wet = rng.random(n) < np.clip(locs.wet_prob + 0.22 * self.wet, 0.0, 0.9)
        self.wet = wet
        amount = rng.gamma(0.75, 7.0, n)
        heavy = rng.random(n) < 0.03
        amount = amount + heavy * rng.exponential(35.0, n)
        precipitation = np.where(wet, np.maximum(0.1, _round1(amount)), 0.0)

        dtr = np.clip(locs.dtr_base + rng.normal(0.0, 2.0, n), 3.0, 22.0) * np.where(wet, 0.6, 1.0)
        temp_min = _round1(np.clip(temp_max - np.maximum(_round1(dtr), 1.0), -60.0, None))

        humidity = locs.humidity_base + 22.0 * wet + rng.normal(0.0, 8.0, n)
        humidity = _round1(np.clip(humidity, 5.0, 100.0))
        wind = _round1(locs.wind_scale * rng.weibull(2.0, n) + 1.0 * wet)

        # AQI: lognormal around the local base, ozone on hot days, rain washes out,
        # occasional smoke/inversion spikes (more often in the West in late summer).
        aqi = locs.aqi_base * rng.lognormal(0.0, 0.3, n) + 2.0 * np.maximum(temp_max - 29.0, 0.0)
        aqi = aqi * np.where(wet, 0.75, 1.0)
        fire_season = 7 <= day.month <= 10
        spike_prob = np.where(locs.smoke_prone & fire_season, 0.05, 0.01)
        spike = rng.random(n) < spike_prob
        aqi = aqi * np.where(spike, rng.uniform(2.5, 5.0, n), 1.0)
        aqi = np.clip(np.rint(aqi), 0, 500).astype(np.int64)

        return {
            "location_id": locs.location_id,
            "date": np.full(n, day.isoformat(), dtype=object),
            "temp_max_c": temp_max,
            "temp_min_c": temp_min,
            "precipitation_mm": precipitation,
            "humidity_pct": humidity,
            "wind_speed_ms": wind,
            "aqi": aqi,
        }


def _health_columns(
    rng: np.random.Generator, locs: _Locations, day: date, climate: Mapping[str, np.ndarray]
) -> dict[str, Sequence]:
    """Poisson case counts; rates are per 100k residents per day."""
    n = len(locs.location_id)
    t_max = climate["temp_max_c"]
    t_min = climate["temp_min_c"]
    aqi = climate["aqi"]
    rain = climate["precipitation_mm"]
    winter = _season(day, 15.0)

    rates = {
        "heat_illness_cases": 0.05 + 1.0 * np.maximum(t_max - 27.0, 0.0),
        "respiratory_cases": 7.0 * (1.0 + 0.45 * winter) * (1.0 + np.maximum(aqi - 50, 0) / 75.0),
        "cardiovascular_cases": 5.0
        * (1.0 + 0.03 * np.maximum(t_max - 30.0, 0.0) + 0.02 * np.maximum(-t_min, 0.0)),
        "waterborne_cases": 0.6 * (1.0 + rain / 30.0),
        "vector_borne_cases": 0.03 + 0.6 * np.clip((t_min - 10.0) / 12.0, 0.0, 1.0),
    }
    scale = locs.population / 100_000.0 * locs.health_effect
    columns: dict[str, Sequence] = {
        "location_id": locs.location_id,
        "date": np.full(n, day.isoformat(), dtype=object),
    }
    total = np.zeros(n, dtype=np.int64)
    for name, rate in rates.items():
        counts = rng.poisson(rate * scale).astype(np.int64)
        columns[name] = counts
        total += counts
    # ED visits: every case plus the emergency department's other traffic (~95 per 100k a day).
    columns["ed_visits"] = total + rng.poisson(95.0 * scale).astype(np.int64)
    return columns


@dataclass
class _OccupancyState:
    """Persistent day-to-day occupancy deviation per hospital (AR(1))."""

    deviation: np.ndarray

    @classmethod
    def initial(cls, rng: np.random.Generator, n: int) -> _OccupancyState:
        return cls(deviation=rng.normal(0.0, 0.04, n))

    def step(
        self, rng: np.random.Generator, hosp: _Hospitals, locs: _Locations, day: date
    ) -> dict[str, Sequence]:
        n = len(hosp.hospital_id)
        self.deviation = 0.7 * self.deviation + rng.normal(0.0, 0.04 * math.sqrt(1 - 0.7**2), n)
        winter = _season(day, 15.0)
        rate = np.clip(hosp.occupancy_base + 0.04 * winter + self.deviation, 0.3, 0.99)
        icu_rate = np.clip(hosp.icu_occupancy_base + 0.04 * winter + self.deviation, 0.2, 1.0)
        beds_occupied = rng.binomial(hosp.total_beds, rate).astype(np.int64)
        icu_occupied = rng.binomial(hosp.icu_beds, icu_rate).astype(np.int64)
        return {
            "hospital_id": hosp.hospital_id,
            "location_id": locs.location_id[hosp.location_index],
            "hospital_name": hosp.hospital_name,
            "date": np.full(n, day.isoformat(), dtype=object),
            "total_beds": hosp.total_beds,
            "beds_occupied": beds_occupied,
            "icu_beds": hosp.icu_beds,
            "icu_beds_occupied": icu_occupied,
            "has_backup_power": _bool_text(hosp.has_backup_power),
            "in_flood_zone": _bool_text(hosp.in_flood_zone),
        }


# --- output ----------------------------------------------------------------------------------


def _write(root: Path, dataset: Dataset, day: date | None, columns: Mapping[str, Sequence]) -> str:
    """Write one CSV (header = contract columns in contract order) and return its lake key."""
    if set(columns) != set(dataset.column_names):
        raise RuntimeError(f"{dataset.name}: generated columns differ from the contract")
    folder = f"{RAW_PREFIX}/{dataset.name}"
    if day is not None:
        folder = f"{folder}/{date_partition(day)}"
    key = f"{folder}/{dataset.name}.csv"
    values = [_as_list(columns[name]) for name in dataset.column_names]
    # Through the lake: a link where a file or folder goes is refused or replaced, never
    # written through, and a file appears complete or not at all.
    with LocalLake(root).writing(key, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(dataset.column_names)
        writer.writerows(zip(*values, strict=True))
    return key


def _as_list(values: Sequence) -> list:
    """Python scalars for the csv module: floats print as their shortest repr ("12.3")."""
    return values.tolist() if isinstance(values, np.ndarray) else list(values)
