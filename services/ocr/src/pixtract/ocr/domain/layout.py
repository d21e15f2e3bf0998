"""Detector boxes grouped into rows, and rows into reading order.

A receipt photographed a few degrees off level puts a price on the right some pixels above
or below its description on the left; comparing box centres alone then attaches prices to
the wrong row (the FACTS pitfall). Each box's own slope (the top edge of its quadrilateral)
predicts where its row continues, so a row is extended along its own direction: that holds
for a rotated page and for the changing slopes of a perspective photo alike.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

Point = tuple[float, float]


class Placed(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def box(self) -> tuple[float, float, float, float]: ...
    @property
    def quad(self) -> tuple[Point, ...]: ...


# Boxes this much wider than tall have a trustworthy slope; short ones ("3.20") borrow the page's.
MIN_ASPECT_FOR_SLOPE = 2.5
# Largest slope believed (degrees): beyond it the page is rotated, not skewed.
MAX_SKEW_DEGREES = 20.0
# Two boxes share a row when the row's predicted centre line passes within this fraction of
# the smaller box's height from the other's centre.
ROW_TOLERANCE = 0.5


@dataclass(frozen=True)
class Geometry:
    cx: float
    cy: float
    height: float
    width: float
    slope: float | None  # dy/dx of the top edge; None when the box is too short to tell
    x0: float
    x1: float


def geometry(item: Placed) -> Geometry:
    x0, y0, x1, y1 = item.box
    if len(item.quad) == 4:
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = item.quad
        width = (math.dist((ax, ay), (bx, by)) + math.dist((dx, dy), (cx, cy))) / 2
        height = (math.dist((ax, ay), (dx, dy)) + math.dist((bx, by), (cx, cy))) / 2
        centre = ((ax + bx + cx + dx) / 4, (ay + by + cy + dy) / 4)
        slope = None
        edges = [(by - ay) / (bx - ax) if bx > ax else None, (cy - dy) / (cx - dx) if cx > dx else None]
        known = [edge for edge in edges if edge is not None]
        if known and height > 0 and width / height >= MIN_ASPECT_FOR_SLOPE:
            candidate = statistics.fmean(known)
            if abs(math.degrees(math.atan(candidate))) <= MAX_SKEW_DEGREES:
                slope = candidate
        return Geometry(centre[0], centre[1], max(height, 1.0), width, slope, x0, x1)
    return Geometry((x0 + x1) / 2, (y0 + y1) / 2, max(y1 - y0, 1.0), x1 - x0, None, x0, x1)


def page_slope(geometries: Sequence[Geometry]) -> float:
    """Median slope of the boxes that have one, weighted by width (long lines tell best)."""
    weighted = sorted((g.slope, g.width) for g in geometries if g.slope is not None)
    if not weighted:
        return 0.0
    half = sum(w for _, w in weighted) / 2
    running = 0.0
    for slope, width in weighted:
        running += width
        if running >= half:
            return slope
    return weighted[-1][0]


@dataclass
class _Row:
    members: list[int] = field(default_factory=list)


def _along(g: Geometry, slope: float) -> float:
    """The box centre's height once the page is turned level (rotating by -atan(slope))."""
    angle = math.atan(slope)
    return -g.cx * math.sin(angle) + g.cy * math.cos(angle)


def _across(g: Geometry, slope: float) -> float:
    angle = math.atan(slope)
    return g.cx * math.cos(angle) + g.cy * math.sin(angle)


def _overlap_x(a: Geometry, b: Geometry) -> float:
    return min(a.x1, b.x1) - max(a.x0, b.x0)


T = TypeVar("T", bound=Placed)


def group_rows(items: Sequence[T]) -> list[list[T]]:
    """Rows top to bottom, each left to right, for boxes of any one page."""
    if not items:
        return []
    geos = [geometry(item) for item in items]
    slope = page_slope(geos)
    order = sorted(range(len(items)), key=lambda i: _along(geos[i], slope))
    rows: list[_Row] = []
    for index in order:
        g = geos[index]
        best: tuple[float, _Row] | None = None
        # Only recent rows can take a box: rows are opened top to bottom.
        for row in rows[-4:]:
            distance = _distance_to_row(g, [geos[m] for m in row.members], slope)
            if distance is not None and (best is None or distance < best[0]):
                best = (distance, row)
        if best is None:
            rows.append(_Row([index]))
        else:
            best[1].members.append(index)
    rows.sort(key=lambda row: statistics.fmean(_along(geos[m], slope) for m in row.members))
    return [[items[m] for m in sorted(row.members, key=lambda m: _across(geos[m], slope))] for row in rows]


def _distance_to_row(g: Geometry, members: list[Geometry], page: float) -> float | None:
    """How far `g`'s centre lies from the row's centre line, in units of box height; None if not in it."""
    # A row never holds two boxes over the same stretch of x (that would be two rows).
    if any(_overlap_x(g, m) > 0.3 * min(g.width, m.width) for m in members):
        return None
    nearest = min(members, key=lambda m: abs(m.cx - g.cx))
    slope = nearest.slope if nearest.slope is not None else page
    predicted = nearest.cy + slope * (g.cx - nearest.cx)
    limit = ROW_TOLERANCE * min(g.height, nearest.height)
    # Very different heights (a title beside body text) only join when clearly aligned.
    distance = abs(g.cy - predicted)
    if distance > limit:
        return None
    return distance / max(min(g.height, nearest.height), 1.0)
