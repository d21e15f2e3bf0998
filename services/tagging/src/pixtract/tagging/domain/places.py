"""Where an image was taken. Reverse geocoding (GeoNames, offline) comes in a later issue; until
then a place carries the coordinates and empty names."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    place: str = ""
    country: str = ""


def location_from_gps(lat: float, lon: float) -> Location | None:
    """The event's GPS point as a location, or None when it is not a point on Earth (broken EXIF)."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return Location(lat=lat, lon=lon)
