"""Dominant colours and their names on synthetic images."""

from __future__ import annotations

import pytest
from PIL import Image

from pixtract.tagging.domain.colors import color_name, dominant_colors


def _halves(left: str, right: str, size: tuple[int, int] = (400, 300)) -> Image.Image:
    image = Image.new("RGB", size, left)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), right), (size[0] // 2, 0))
    return image


def test_half_red_half_blue_gives_red_and_blue_about_half_each() -> None:
    colors = dominant_colors(_halves("#ff0000", "#0000ff"))
    by_name = {c.name: c for c in colors}
    assert set(by_name) == {"red", "blue"}
    assert by_name["red"].fraction == pytest.approx(0.5, abs=0.03)
    assert by_name["blue"].fraction == pytest.approx(0.5, abs=0.03)
    assert by_name["red"].hex == "#ff0000"
    assert by_name["blue"].hex == "#0000ff"


def test_fractions_sum_to_one_and_come_largest_first() -> None:
    image = Image.new("RGB", (300, 300), "#228b22")
    image.paste(Image.new("RGB", (300, 100), "#ffd700"), (0, 0))
    image.paste(Image.new("RGB", (60, 60), "#ffffff"), (120, 180))
    colors = dominant_colors(image)
    assert [c.name for c in colors] == ["green", "yellow", "white"]
    assert sum(c.fraction for c in colors) == pytest.approx(1.0)
    assert colors[0].fraction == pytest.approx(0.63, abs=0.03)
    assert colors[2].fraction == pytest.approx(0.04, abs=0.02)


def test_at_most_five_colours_from_a_many_coloured_image() -> None:
    image = Image.new("RGB", (800, 100))
    for i, hex_value in enumerate(
        ["#ff0000", "#ffa500", "#ffff00", "#008000", "#0000ff", "#800080", "#ffc0cb", "#000000"]
    ):
        image.paste(Image.new("RGB", (100, 100), hex_value), (i * 100, 0))
    colors = dominant_colors(image)
    assert 1 <= len(colors) <= 5
    assert sum(c.fraction for c in colors) == pytest.approx(1.0)


def test_shades_with_one_name_are_merged() -> None:
    colors = dominant_colors(_halves("#1e90ff", "#000080"))
    assert [c.name for c in colors] == ["blue"]
    assert colors[0].fraction == pytest.approx(1.0)


def test_transparent_pixels_are_not_a_colour() -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (50, 100), (255, 0, 0, 255)), (0, 0))
    colors = dominant_colors(image)
    assert [(c.name, c.fraction) for c in colors] == [("red", 1.0)]


def test_a_fully_transparent_image_has_no_colours() -> None:
    assert dominant_colors(Image.new("RGBA", (64, 64), (10, 200, 30, 0))) == []


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((255, 0, 0), "red"),
        ((0, 0, 255), "blue"),
        ((0, 255, 0), "green"),
        ((255, 255, 255), "white"),
        ((0, 0, 0), "black"),
        ((128, 128, 128), "grey"),
        ((255, 255, 0), "yellow"),
        ((255, 136, 0), "orange"),
        ((255, 192, 203), "pink"),
        ((128, 0, 128), "purple"),
        ((139, 69, 19), "brown"),
        # Shades away from the references: material-design red, blue and green, a sky,
        # navy, a dark chocolate, light grey, charcoal.
        ((229, 57, 53), "red"),
        ((30, 136, 229), "blue"),
        ((67, 160, 71), "green"),
        ((135, 206, 235), "blue"),
        ((0, 0, 139), "blue"),
        ((91, 58, 41), "brown"),
        ((192, 192, 192), "grey"),
        ((43, 43, 43), "black"),
    ],
)
def test_colour_names_follow_the_nearest_basic_colour(rgb: tuple[int, int, int], name: str) -> None:
    assert color_name(rgb) == name
