"""Category ids, the user's summary of categories, places and the categorise seam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pixtract.tagging.consumers.results import RULES_PATH
from pixtract.tagging.domain.categories import (
    Categorisation,
    CategoryCount,
    categorise,
    category_id,
    summarise_categories,
)
from pixtract.tagging.domain.labels import Label, LabelRules
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


RULES = LabelRules.load(RULES_PATH)
TABBY = Label("tabby cat", 0.56, ("domestic cat", "cat", "feline", "carnivore", "mammal", "animal"))
ESPRESSO = Label("espresso", 0.9, ("coffee", "beverage", "food"))
TRIPOD = Label("tripod", 0.94, ("rack", "support", "device"))
MENU = Label("menu", 0.7, ("document",))


def test_no_labels_no_faces_no_text_means_no_categories() -> None:
    assert categorise([], faces=0, document_type="", rules=RULES) == Categorisation()


@pytest.mark.parametrize(
    ("labels", "faces", "document_type", "categories", "specific"),
    [
        ([TABBY], 0, "", ("Animals",), (("Animals", "Cats"),)),
        ([ESPRESSO], 0, "none", ("Food & Drink",), (("Food & Drink", "Coffee"),)),
        ([TRIPOD], 0, "", ("Objects",), ()),
        ([TRIPOD], 1, "", ("People",), ()),
        ([TABBY], 2, "", ("People", "Animals"), (("Animals", "Cats"),)),
        ([], 1, "", ("People",), ()),
        # A receipt is a receipt even though ImageNet calls it a menu.
        ([MENU], 0, "receipt", ("Receipts",), ()),
        ([MENU], 0, "", ("Documents",), ()),
        ([TRIPOD], 0, "note", ("Documents",), ()),
        ([Label("screenshot", 0.8, ("document",))], 0, "screenshot", ("Screenshots",), ()),
        ([TABBY], 0, "other", ("Animals",), (("Animals", "Cats"),)),
    ],
)
def test_categories_come_from_labels_faces_and_ocr(
    labels: list[Label],
    faces: int,
    document_type: str,
    categories: tuple[str, ...],
    specific: tuple[tuple[str, str], ...],
) -> None:
    assert categorise(labels, faces, document_type, RULES) == Categorisation(categories, specific)


def test_a_suggested_name_gets_specific_when_ninety_percent_share_it() -> None:
    counts = [
        CategoryCount("Animals", 10, "c", T0, {"Cats": 9, "Dogs": 1}),
        CategoryCount("Vehicles", 10, "v", T0, {"Cars": 8, "Boats": 2}),
        CategoryCount("Food & Drink", 1, "f", T0, {"Coffee": 1}),
    ]
    summary = {c.id: c for c in summarise_categories(counts, {"vehicles": "Rides"})}
    assert (summary["animals"].name, summary["animals"].suggested_name) == ("Cats", "Cats")
    assert (summary["vehicles"].name, summary["vehicles"].suggested_name) == ("Rides", "Vehicles")
    assert summary["food-drink"].suggested_name == "Coffee"


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
