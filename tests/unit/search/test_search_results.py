"""Shaping OpenSearch answers into hits, facets, cursors and suggestions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pixtract.search.domain.cursor import decode_cursor
from pixtract.search.domain.results import shape_hit, shape_search_page, shape_suggestions
from pixtract.search.domain.search import SortOrder


def _raw_hit(image_id: str, sort: list[Any], **source: Any) -> dict[str, Any]:
    return {"_id": image_id, "_score": 1.5, "_source": {"image_id": image_id, **source}, "sort": sort}


def test_a_hit_shows_its_fields_and_highlights() -> None:
    raw = {
        "_id": "img-1",
        "_score": 2.25,
        "_source": {
            "image_id": "img-1",
            "filename": "IMG_1.jpg",
            "labels": ["cash machine"],
            "categories": ["Documents"],
            "taken_at": "2023-08-14T18:30:00+00:00",
        },
        "highlight": {"text": ["a <em>receipt</em> from"], "labels": ["<em>cash</em> machine"]},
    }
    hit = shape_hit(raw)
    assert hit.image_id == "img-1"
    assert hit.score == 2.25
    assert hit.filename == "IMG_1.jpg"
    assert hit.labels == ["cash machine"]
    assert hit.categories == ["Documents"]
    assert hit.taken_at == datetime(2023, 8, 14, 18, 30, tzinfo=UTC)
    assert hit.highlights.text == ["a <em>receipt</em> from"]
    assert hit.highlights.labels == ["<em>cash</em> machine"]


def test_a_partial_document_still_makes_a_hit() -> None:
    # Tagged before its upload event arrived: no filename, no dates; sorted browse: no score.
    hit = shape_hit({"_id": "img-2", "_score": None, "_source": {"labels": "dog", "taken_at": "garbage"}})
    assert hit.image_id == "img-2"
    assert hit.score is None
    assert hit.filename is None
    assert hit.labels == ["dog"]
    assert hit.categories == []
    assert hit.taken_at is None
    assert hit.highlights.text == []


def test_unstemmed_text_highlights_are_used_when_the_stemmed_field_has_none() -> None:
    hit = shape_hit({"_id": "i", "_source": {}, "highlight": {"text.std": ["the <em>running</em> man"]}})
    assert hit.highlights.text == ["the <em>running</em> man"]


def _response(hits: list[dict[str, Any]], total: int, aggregations: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"hits": {"total": {"value": total, "relation": "eq"}, "hits": hits}, "aggregations": aggregations or {}}


def test_a_next_cursor_only_when_the_extra_hit_came_back() -> None:
    hits = [_raw_hit(f"img-{i}", [1700000000000 - i, f"img-{i}"]) for i in range(3)]
    full = shape_search_page(_response(hits, total=3), limit=2, sort=SortOrder.NEWEST)
    assert [h.image_id for h in full.items] == ["img-0", "img-1"]
    assert full.total == 3
    assert full.next_cursor is not None
    assert decode_cursor(full.next_cursor, sort="newest", expected_length=2) == [1699999999999, "img-1"]

    last = shape_search_page(_response(hits[:2], total=2), limit=2, sort=SortOrder.NEWEST)
    assert len(last.items) == 2
    assert last.next_cursor is None


def test_facets_count_values_and_years_newest_first() -> None:
    aggregations = {
        "categories": {"buckets": [{"key": "Food", "doc_count": 3}]},
        "labels": {"buckets": [{"key": "pizza", "doc_count": 2}, {"key": "plate", "doc_count": 1}]},
        "places": {"buckets": []},
        "document_types": {"buckets": [{"key": "receipt", "doc_count": 1}]},
        "years": {
            "buckets": [
                {"key": 1577836800000, "key_as_string": "2020", "doc_count": 1},
                {"key": 1609459200000, "key_as_string": "2021", "doc_count": 0},
                {"key": 1704067200000, "key_as_string": "2024", "doc_count": 2},
            ]
        },
    }
    facets = shape_search_page(_response([], 0, aggregations), limit=20, sort=SortOrder.RELEVANCE).facets
    assert [(f.value, f.count) for f in facets.categories] == [("Food", 3)]
    assert [(f.value, f.count) for f in facets.labels] == [("pizza", 2), ("plate", 1)]
    assert facets.places == []
    assert [(f.value, f.count) for f in facets.document_types] == [("receipt", 1)]
    assert [(f.value, f.count) for f in facets.years] == [("2024", 2), ("2020", 1)]


def test_missing_aggregations_give_empty_facets() -> None:
    page = shape_search_page({"hits": {"total": 0, "hits": []}}, limit=20, sort=SortOrder.NEWEST)
    assert page.total == 0
    assert page.items == []
    assert page.facets.labels == []
    assert page.facets.years == []


def test_suggestions_merge_fields_most_frequent_first_each_once() -> None:
    aggregations = {
        "labels": {"buckets": [{"key": "dog", "doc_count": 5}, {"key": "dough", "doc_count": 1}]},
        "categories": {"buckets": [{"key": "Dogs", "doc_count": 5}, {"key": "DOG", "doc_count": 2}]},
        "places": {"buckets": [{"key": "Dorset", "doc_count": 3}]},
        "vendors": {"buckets": []},
    }
    assert shape_suggestions({"aggregations": aggregations}, limit=10) == ["dog", "Dogs", "Dorset", "dough"]
    assert shape_suggestions({"aggregations": aggregations}, limit=2) == ["dog", "Dogs"]
    assert shape_suggestions({}, limit=10) == []
