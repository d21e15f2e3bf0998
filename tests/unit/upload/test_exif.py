"""EXIF to photo metadata on images built here with Pillow: orientation, capture time, camera, GPS."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from pixtract.upload.domain.exif import (
    Camera,
    GeoPoint,
    PhotoMetadata,
    gps_to_decimal,
    parse_exif_datetime,
    read_photo_metadata,
)


def _jpeg_with(exif: Image.Exif) -> Image.Exif:
    """Write a JPEG carrying `exif`, read it back: the metadata goes through real encoding."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, format="JPEG", exif=exif)
    with Image.open(io.BytesIO(out.getvalue())) as image:
        return image.getexif()


def _dms(degrees: int, minutes: int, seconds: Fraction) -> tuple[IFDRational, IFDRational, IFDRational]:
    return (IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds.numerator, seconds.denominator))


def _camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Canon\x00\x00"
    exif[ExifTags.Base.Model] = " EOS R6 "
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.DateTimeOriginal] = "2024:07:14 18:30:05"
    exif_ifd[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "S"
    gps[ExifTags.GPS.GPSLatitude] = _dms(33, 51, Fraction(5445, 100))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = _dms(151, 12, Fraction(3597, 100))
    return exif


def test_camera_photo_metadata_is_read() -> None:
    meta = read_photo_metadata(_jpeg_with(_camera_exif()))
    assert meta.orientation == 6
    assert meta.camera == Camera("Canon", "EOS R6")
    assert meta.taken_at == datetime(2024, 7, 14, 18, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert meta.taken_at is not None
    assert meta.taken_at.astimezone(UTC).hour == 16
    # Sydney Opera House: 33°51'54.45"S 151°12'35.97"E
    assert meta.gps == GeoPoint(-33.8651250, 151.2099917)


def test_an_image_without_exif_has_empty_metadata() -> None:
    assert read_photo_metadata(_jpeg_with(Image.Exif())) == PhotoMetadata()


def test_capture_time_without_offset_is_read_as_utc_and_datetime_is_the_last_resort() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = "2025:07:14 10:30:00"
    assert read_photo_metadata(_jpeg_with(exif)).taken_at == datetime(2025, 7, 14, 10, 30, tzinfo=UTC)
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeDigitized] = "2020:01:02 03:04:05"
    assert read_photo_metadata(_jpeg_with(exif)).taken_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_only_make_or_only_model_is_still_a_camera_and_bad_orientation_is_none() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "Pixel 8"
    exif[ExifTags.Base.Orientation] = 9
    meta = read_photo_metadata(_jpeg_with(exif))
    assert meta.camera == Camera("", "Pixel 8")
    assert meta.orientation == 0


@pytest.mark.parametrize(
    ("value", "offset", "expected"),
    [
        (
            "2024:02:29 23:59:59",
            "-05:30",
            datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        (b"2024:02:29 12:00:00\x00", None, datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("2024-02-29T12:00:00", "garbage", datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("0000:00:00 00:00:00", None, None),
        ("2023:02:29 12:00:00", None, None),
        ("    :  :     :  :  ", None, None),
        ("yesterday", None, None),
        (None, None, None),
        (12345, None, None),
    ],
)
def test_exif_datetimes(value: object, offset: object, expected: datetime | None) -> None:
    assert parse_exif_datetime(value, offset) == expected


@pytest.mark.parametrize(
    ("dms", "ref", "expected"),
    [
        ((48, 51, 29.64), "N", 48.8582333),
        ((2, 17, 40.2), "W", -2.2945),
        ((0, 30, 0), b"S", -0.5),
        ((IFDRational(1, 0), 0, 0), "N", None),
        ((1, 2), "N", None),
        (None, "N", None),
    ],
)
def test_gps_to_decimal_degrees(dms: object, ref: object, expected: float | None) -> None:
    result = gps_to_decimal(dms, ref)
    assert result == expected if expected is None else result == pytest.approx(expected, abs=1e-7)


def test_out_of_range_gps_is_dropped() -> None:
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = _dms(95, 0, Fraction(0))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = _dms(10, 0, Fraction(0))
    assert read_photo_metadata(_jpeg_with(exif)).gps is None
