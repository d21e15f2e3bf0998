"""Photo metadata from EXIF: orientation, capture time, camera and GPS position.

EXIF written by real cameras and phones is messy (NUL padding, zero dates, rationals with a
zero denominator): anything that does not parse is treated as absent, never as an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import ExifTags, Image

_DATETIME = re.compile(r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")

# Capture time tags of the Exif IFD, best first: (date-time tag, its offset tag).
_CAPTURE_TIME_TAGS = (
    (ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal),
    (ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized),
)


@dataclass(frozen=True)
class Camera:
    make: str
    model: str


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True)
class PhotoMetadata:
    # EXIF orientation 1..8; 0 when the image has none.
    orientation: int = 0
    # Aware: in the camera's own UTC offset when EXIF gives one, else read as UTC.
    taken_at: datetime | None = None
    camera: Camera | None = None
    gps: GeoPoint | None = None


def exif_text(value: Any) -> str:
    """An EXIF ASCII value as clean text (cameras pad with NULs and spaces)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()


def parse_exif_datetime(value: Any, offset: Any = None) -> datetime | None:
    """'YYYY:MM:DD HH:MM:SS' plus an optional '+HH:MM' offset; None for zero or invalid dates."""
    match = _DATETIME.match(exif_text(value))
    if match is None:
        return None
    zone = _parse_offset(offset) or UTC
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def _parse_offset(value: Any) -> timezone | None:
    match = _OFFSET.match(exif_text(value))
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta >= timedelta(hours=24):
        return None
    return timezone(-delta if sign == "-" else delta)


def gps_to_decimal(degrees_minutes_seconds: Any, reference: Any) -> float | None:
    """EXIF (degrees, minutes, seconds) and a N/S/E/W reference as signed decimal degrees."""
    try:
        degrees, minutes, seconds = (float(part) for part in degrees_minutes_seconds)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(value):
        return None
    return -value if exif_text(reference).upper() in {"S", "W"} else value


def _gps_point(gps_ifd: dict[int, Any]) -> GeoPoint | None:
    lat = gps_to_decimal(gps_ifd.get(ExifTags.GPS.GPSLatitude), gps_ifd.get(ExifTags.GPS.GPSLatitudeRef))
    lon = gps_to_decimal(gps_ifd.get(ExifTags.GPS.GPSLongitude), gps_ifd.get(ExifTags.GPS.GPSLongitudeRef))
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    return GeoPoint(round(lat, 7), round(lon, 7))


def _capture_time(exif: Image.Exif) -> datetime | None:
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    for time_tag, offset_tag in _CAPTURE_TIME_TAGS:
        taken_at = parse_exif_datetime(exif_ifd.get(time_tag), exif_ifd.get(offset_tag))
        if taken_at is not None:
            return taken_at
    # Last resort: IFD0's DateTime (file change time; in-camera it is the capture time).
    return parse_exif_datetime(exif.get(ExifTags.Base.DateTime), exif_ifd.get(ExifTags.Base.OffsetTime))


def read_photo_metadata(exif: Image.Exif) -> PhotoMetadata:
    orientation = exif.get(ExifTags.Base.Orientation)
    make = exif_text(exif.get(ExifTags.Base.Make))
    model = exif_text(exif.get(ExifTags.Base.Model))
    return PhotoMetadata(
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 0,
        taken_at=_capture_time(exif),
        camera=Camera(make, model) if make or model else None,
        gps=_gps_point(exif.get_ifd(ExifTags.IFD.GPSInfo)),
    )
