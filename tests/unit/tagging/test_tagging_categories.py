"""Category ids, the user's summary of categories, places and the categorise seam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pixtract.tagging.domain.categories import CategoryCount, categorise, category_id, summarise_categories
from pixtract.tagging.domain.labels import Label
from pixtract.tagging.domain.places import Location, location_from_gps

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Animals", "animals"),
        ("Food & Drink", "food-drink"),
        ("  Beach  life ", "beach-life"),
        ("Café", "cafe"),
        ("Mountains/Hiking", "mountains-hiking"),
    ],
)
def test_category_ids_are_url_safe_slugs(name: str, expected: str) -> None:
    assert category_id(name) == expected


def test_names_without_latin_letters_get_distinct_stable_ids() -> None:
    first, second = category_id("猫"), category_id("犬")
    assert first.startswith("c-")
    assert first != second
    assert category_id("猫") == first


def test_categories_are_summarised_largest_first_with_renames() -> None:
    counts = [
        CategoryCount("Food", 2, "img-food", T0),
        CategoryCount("Animals", 5, "img-cat", T0),
        CategoryCount("Beach", 2, "img-sea", T0),
    ]
    summary = summarise_categories(counts, {"animals": "My pets"})
    assert [(c.id, c.name, c.suggested_name, c.count, c.cover_image_id) for c in summary] == [
        ("animals", "My pets", "Animals", 5, "img-cat"),
        ("beach", "Beach", "Beach", 2, "img-sea"),
        ("food", "Food", "Food", 2, "img-food"),
    ]


def test_names_with_one_slug_are_one_category_with_the_newest_cover() -> None:
    counts = [
        CategoryCount("Food & Drink", 2, "older", T0),
        CategoryCount("Food drink", 3, "newer", T0 + timedelta(days=1)),
    ]
    [category] = summarise_categories(counts, {})
    assert category.id == "food-drink"
    assert category.count == 5
    assert category.cover_image_id == "newer"


def test_renames_of_categories_the_user_no_longer_has_are_ignored() -> None:
    assert summarise_categories([], {"animals": "My pets"}) == []


def test_no_labels_means_no_categories_yet() -> None:
    labels = [Label("tabby", 0.9, ("cat", "feline", "animal"))]
    assert categorise([], faces=0, location=None) == []
    assert categorise(labels, faces=2, location=Location(48.85, 2.35)) == []


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (48.8584, 2.2945, Location(48.8584, 2.2945)),
        (-90.0, 180.0, Location(-90.0, 180.0)),
        (91.0, 0.0, None),
        (0.0, -180.5, None),
        (float("nan"), 2.0, None),
        (float("inf"), 2.0, None),
    ],
)
def test_gps_points_become_locations_only_on_earth(lat: float, lon: float, expected: Location | None) -> None:
    location = location_from_gps(lat, lon)
    assert location == expected
    if location is not None:
        assert (location.place, location.country) == ("", "")
