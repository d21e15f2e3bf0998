"""Response models of the search API (API.md, Search)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _FromDomain(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class HighlightsOut(_FromDomain):
    text: list[str]
    labels: list[str]


class HitOut(_FromDomain):
    image_id: str
    score: float | None
    filename: str | None
    labels: list[str]
    categories: list[str]
    taken_at: datetime | None
    highlights: HighlightsOut


class FacetValue(_FromDomain):
    value: str
    count: int


class FacetsOut(_FromDomain):
    categories: list[FacetValue]
    labels: list[FacetValue]
    places: list[FacetValue]
    years: list[FacetValue]
    document_types: list[FacetValue]


class SearchResults(_FromDomain):
    total: int
    items: list[HitOut]
    facets: FacetsOut
    next_cursor: str | None


class Suggestions(BaseModel):
    suggestions: list[str]
