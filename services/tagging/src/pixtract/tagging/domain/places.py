"""Where an image was taken: the upload's GPS point named by the nearest known town.

An offline gazetteer (GeoNames towns) always answers its nearest town, even for a point
in mid-Atlantic; a town farther than the cut-off is no answer, and the location keeps only
its coordinates. The nearest entry is often a district or a suburb (the Eiffel Tower's is
Vanves, Sydney Opera House's The Rocks), so a big city close by wins over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from pixtract.tagging.domain.labels import Label

EARTH_RADIUS_KM = 6371.0088
# A city at least this big within CITY_RADIUS_KM names the place rather than its districts.
CITY_POPULATION = 100_000
CITY_RADIUS_KM = 10.0


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    place: str = ""
    country: str = ""
    region: str = ""
    country_code: str = ""


@dataclass(frozen=True)
class Town:
    name: str
    region: str
    country: str
    country_code: str
    lat: float
    lon: float


class Gazetteer(Protocol):
    def nearest(self, lat: float, lon: float, *, min_population: int = 0) -> Town | None:
        """The nearest known town of at least `min_population`, however far; None when none is known."""
        ...


def location_from_gps(lat: float, lon: float) -> Location | None:
    """The event's GPS point as a location, or None when it is not a point on Earth (broken EXIF)."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return Location(lat=lat, lon=lon)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def name_location(location: Location, gazetteer: Gazetteer, *, max_km: float) -> Location:
    """The location with the nearest town's names (a big city's when one is close), or
    unchanged when no town is within `max_km`."""
    town = gazetteer.nearest(location.lat, location.lon, min_population=CITY_POPULATION)
    radius = min(CITY_RADIUS_KM, max_km)
    if town is None or distance_km(location.lat, location.lon, town.lat, town.lon) > radius:
        town = gazetteer.nearest(location.lat, location.lon)
    if town is None or distance_km(location.lat, location.lon, town.lat, town.lon) > max_km:
        return location
    return Location(
        lat=location.lat,
        lon=location.lon,
        place=town.name,
        country=town.country,
        region=town.region,
        country_code=town.country_code,
    )


def place_labels(location: Location | None) -> list[Label]:
    """Town, region and country as labels, each with the wider ones as parents."""
    if location is None:
        return []
    chain = [name for name in (location.place, location.region, location.country) if name]
    unique = list(dict.fromkeys(chain))
    return [Label(name, 1.0, tuple(unique[i + 1 :])) for i, name in enumerate(unique)]
