"""Reverse geocoding with a distance cut-off: mid-ocean points get no town."""

from __future__ import annotations

import pytest

from pixtract.tagging.adapters.geonames import GeoNamesGazetteer
from pixtract.tagging.domain.places import Location, Town, distance_km, name_location

GAZETTEER = GeoNamesGazetteer()


class OneTown:
    def __init__(self, town: Town | None) -> None:
        self.town = town

    def nearest(self, lat: float, lon: float, *, min_population: int = 0) -> Town | None:
        return self.town


def test_distance_is_great_circle() -> None:
    assert distance_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(344, abs=2)  # Paris-London
    assert distance_km(0, 0, 0, 0) == 0


def test_a_town_beyond_the_cut_off_names_nothing() -> None:
    town = Town("Lajes das Flores", "Azores", "Portugal", "PT", 39.38, -31.18)
    far = Location(30.0, -40.0)
    assert name_location(far, OneTown(town), max_km=25) == far
    near = Location(39.40, -31.20)
    assert name_location(near, OneTown(town), max_km=25) == Location(
        39.40, -31.20, "Lajes das Flores", "Portugal", "Azores", "PT"
    )
    assert name_location(near, OneTown(None), max_km=25) == near


@pytest.mark.parametrize(
    ("lat", "lon", "place", "region", "country"),
    [
        (59.3293, 18.0686, "Stockholm", "Stockholm", "Sweden"),
        (48.8584, 2.2945, "Paris", "Île-de-France", "France"),  # the Eiffel Tower, not Vanves
        (45.9237, 6.8694, "Chamonix-Mont-Blanc", "Auvergne-Rhône-Alpes", "France"),
        (35.6586, 139.7454, "Tokyo", "Tokyo", "Japan"),
        (-33.8568, 151.2153, "Sydney", "New South Wales", "Australia"),
    ],
)
def test_geonames_names_real_places(lat: float, lon: float, place: str, region: str, country: str) -> None:
    named = name_location(Location(lat, lon), GAZETTEER, max_km=25)
    assert (named.place, named.region, named.country) == (place, region, country)
    assert len(named.country_code) == 2


@pytest.mark.parametrize(("lat", "lon"), [(30.0, -40.0), (-45.0, -120.0), (0.0, 0.0)])
def test_geonames_names_no_town_in_mid_ocean(lat: float, lon: float) -> None:
    assert name_location(Location(lat, lon), GAZETTEER, max_km=25) == Location(lat, lon)
