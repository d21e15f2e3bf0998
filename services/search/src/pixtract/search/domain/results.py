"""OpenSearch answers shaped into what the API returns.

Documents are assembled from parts that arrive in any order, so any field may be
missing, null or (from an older writer) of an odd type: shaping never assumes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pixtract.search.domain.cursor import encode_cursor
from pixtract.search.domain.search import SUGGESTION_FIELDS, TERMS_FACETS, SortOrder


@dataclass(frozen=True)
class Highlights:
    text: list[str]
    labels: list[str]


@dataclass(frozen=True)
class Hit:
    image_id: str
    score: float | None
    filename: str | None
    labels: list[str]
    categories: list[str]
    taken_at: datetime | None
    highlights: Highlights


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    categories: list[FacetCount]
    labels: list[FacetCount]
    places: list[FacetCount]
    years: list[FacetCount]
    document_types: list[FacetCount]


@dataclass(frozen=True)
class SearchPage:
    total: int
    items: list[Hit]
    facets: Facets
    next_cursor: str | None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def shape_hit(raw: Mapping[str, Any]) -> Hit:
    source = raw.get("_source") or {}
    highlight = raw.get("highlight") or {}
    score = raw.get("_score")
    return Hit(
        image_id=str(source.get("image_id") or raw.get("_id", "")),
        score=float(score) if isinstance(score, int | float) else None,
        filename=_string(source.get("filename")),
        labels=_strings(source.get("labels")),
        categories=_strings(source.get("categories")),
        taken_at=_datetime(source.get("taken_at")),
        # The stemmed field highlights most words; the unstemmed one catches what only it matched.
        highlights=Highlights(
            text=_strings(highlight.get("text")) or _strings(highlight.get("text.std")),
            labels=_strings(highlight.get("labels")),
        ),
    )


def _buckets(aggregations: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    buckets = (aggregations.get(name) or {}).get("buckets") or []
    return [b for b in buckets if isinstance(b, Mapping)]


def _terms(aggregations: Mapping[str, Any], name: str) -> list[FacetCount]:
    return [FacetCount(str(b["key"]), int(b.get("doc_count", 0))) for b in _buckets(aggregations, name) if "key" in b]


def shape_facets(aggregations: Mapping[str, Any]) -> Facets:
    years = [
        FacetCount(str(b.get("key_as_string", b.get("key"))), int(b.get("doc_count", 0)))
        for b in _buckets(aggregations, "years")
        if b.get("doc_count")
    ]
    terms = {name: _terms(aggregations, name) for name in TERMS_FACETS}
    return Facets(
        categories=terms["categories"],
        labels=terms["labels"],
        places=terms["places"],
        # Newest first, as a timeline reads.
        years=sorted(years, key=lambda facet: facet.value, reverse=True),
        document_types=terms["document_types"],
    )


def _total(hits: Mapping[str, Any]) -> int:
    total = hits.get("total", 0)
    if isinstance(total, Mapping):
        total = total.get("value", 0)
    return int(total)


def shape_search_page(response: Mapping[str, Any], limit: int, sort: SortOrder) -> SearchPage:
    """The page of `limit` hits; the request asked for one more, whose presence means a next page."""
    hits_section = response.get("hits") or {}
    raw_hits = list(hits_section.get("hits") or [])
    page, more = raw_hits[:limit], len(raw_hits) > limit
    last_sort = page[-1].get("sort") if more and page else None
    next_cursor = encode_cursor(list(last_sort), sort=sort.value) if last_sort else None
    return SearchPage(
        total=_total(hits_section),
        items=[shape_hit(hit) for hit in page],
        facets=shape_facets(response.get("aggregations") or {}),
        next_cursor=next_cursor,
    )


def shape_suggestions(response: Mapping[str, Any], limit: int) -> list[str]:
    """The most frequent matching values across fields, each once whatever its case."""
    counts: dict[str, tuple[int, str]] = {}
    aggregations = response.get("aggregations") or {}
    for name in SUGGESTION_FIELDS:
        for facet in _terms(aggregations, name):
            key = facet.value.casefold()
            if key not in counts or counts[key][0] < facet.count:
                counts[key] = (facet.count, facet.value)
    ranked = sorted(counts.values(), key=lambda item: (-item[0], item[1].casefold()))
    return [value for _, value in ranked[:limit]]
