"""File names from clients, download headers and conditional GETs."""

from __future__ import annotations

import pytest

from pixtract.upload.api.caching import if_none_match_hits
from pixtract.upload.domain.filenames import attachment_disposition, clean_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("holiday.jpg", "holiday.jpg"),
        ("C:\\Users\\me\\Pictures\\cat.png", "cat.png"),
        ("../../etc/passwd", "passwd"),
        ("evil\r\nname\x00.jpg", "evilname.jpg"),
        ("  Ünïcode 写真.jpg  ", "Ünïcode 写真.jpg"),
        ("", "image.png"),
        (None, "image.png"),
        ("..", "image.png"),
        ("dir/", "image.png"),
    ],
)
def test_filenames_are_cleaned(raw: str | None, expected: str) -> None:
    assert clean_filename(raw, extension="png") == expected


def test_long_filenames_keep_their_extension() -> None:
    cleaned = clean_filename("x" * 300 + ".jpeg", extension="jpg")
    assert len(cleaned) == 255
    assert cleaned.endswith("x.jpeg")


def test_downloads_carry_an_ascii_fallback_and_the_exact_utf8_name() -> None:
    assert attachment_disposition('résumé "final".jpg') == (
        "attachment; filename=\"r?sum? _final_.jpg\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.jpg"
    )


@pytest.mark.parametrize(
    ("header", "hit"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match(header: str | None, hit: bool) -> None:
    assert if_none_match_hits(header, '"abc"') is hit
