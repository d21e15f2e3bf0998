"""Search and suggestion bodies: owner isolation on every request, filters, sort, paging."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from pixtract.search.domain.cursor import InvalidCursor, encode_cursor
from pixtract.search.domain.mapping import index_body, index_name, mapped_fields
from pixtract.search.domain.query_string import QueryError
from pixtract.search.domain.search import (
    FREE_TEXT_FIELDS,
    HIGHLIGHT,
    SUGGESTION_FIELDS,
    TERMS_FACETS,
    OwnerScopedSearch,
    SearchFilters,
    SortOrder,
    build_search,
    build_suggest,
    case_insensitive_pattern,
    resolve_sort,
)

OWNER = "user-1"


def _requests() -> list[OwnerScopedSearch]:
    everything = SearchFilters(category="food", label="dog", place="Paris", document_type="receipt")
    return [
        build_search(OWNER, "", SearchFilters(), limit=20),
        build_search(OWNER, "receipts", SearchFilters(), limit=20),
        build_search(OWNER, "label:dog AND NOT owner_id:user-2", everything, limit=5),
        build_search(OWNER, "", everything, limit=1, cursor=encode_cursor([1700000000000, "img-9"], sort="newest")),
        build_suggest(OWNER, "do", size=10),
        build_suggest(OWNER, "", size=10),
    ]


@pytest.mark.parametrize("request_", _requests())
def test_every_request_is_filtered_to_the_owner_and_routed_to_them(request_: OwnerScopedSearch) -> None:
    body = request_.body()
    scoped = body["query"]["bool"]
    assert scoped["filter"][0] == {"term": {"owner_id": OWNER}}
    assert {"term": {"deleted": True}} in scoped["must_not"]
    assert request_.routing == OWNER


def test_options_cannot_replace_the_scoped_query() -> None:
    request = OwnerScopedSearch(OWNER, {"match_all": {}}, options={"query": {"match_all": {}}, "size": 3})
    assert request.body()["query"]["bool"]["filter"] == [{"term": {"owner_id": OWNER}}]
    assert request.body()["size"] == 3


def test_a_search_without_an_owner_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="owner"):
        OwnerScopedSearch("", {"match_all": {}})


def test_empty_text_browses_newest_first_without_highlights() -> None:
    body = build_search(OWNER, "   ", SearchFilters(), limit=20).body()
    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert "highlight" not in body
    assert [next(iter(s)) for s in body["sort"]] == ["effective_date", "image_id"]


def test_plain_words_must_each_match_some_field_with_typos_forgiven() -> None:
    body = build_search(OWNER, "the receipts from tesco", SearchFilters(), limit=20).body()
    text_query = body["query"]["bool"]["must"][0]["bool"]
    words = [clause["multi_match"]["query"] for clause in text_query["must"]]
    assert words == ["receipts", "from", "tesco"]  # "the" is a stop word, not a requirement
    assert all(clause["multi_match"]["fuzziness"] == "AUTO" for clause in text_query["must"])
    assert body["highlight"] == HIGHLIGHT
    assert next(iter(body["sort"][0])) == "_score"


def test_only_stop_words_are_still_searched() -> None:
    body = build_search(OWNER, "the", SearchFilters(), limit=20).body()
    assert [c["multi_match"]["query"] for c in body["query"]["bool"]["must"][0]["bool"]["must"]] == ["the"]


def _must(text: str) -> list[dict[str, Any]]:
    must: list[dict[str, Any]] = build_search(OWNER, text, SearchFilters(), limit=20).body()["query"]["bool"]["must"]
    return list(must[0]["bool"]["must"])


def _month_span(clause: dict[str, Any]) -> dict[str, str]:
    should = clause["bool"]["should"]
    assert clause["bool"]["minimum_should_match"] == 1
    spans = [c["range"] for c in should if "range" in c]
    assert [next(iter(span)) for span in spans] == ["effective_date", "receipt.date"]
    assert spans[0]["effective_date"] == spans[1]["receipt.date"]
    span: dict[str, str] = spans[0]["effective_date"]
    return span


def test_a_month_with_its_year_is_a_date_not_two_words() -> None:
    must = _must("grocery receipt march 2026")
    assert [c["multi_match"]["query"] for c in must[:2]] == ["grocery", "receipt"]
    assert len(must) == 3
    assert _month_span(must[2]) == {"gte": "2026-03-01T00:00:00+00:00", "lt": "2026-04-01T00:00:00+00:00"}
    written = [c["multi_match"] for c in must[2]["bool"]["should"] if "multi_match" in c]
    assert written == [{"query": "march 2026", "fields": ["text", "text.std"], "operator": "and"}]


def test_a_year_before_a_short_month_name_reaches_into_the_next_year() -> None:
    [clause] = _must("2024 Dec.")
    assert _month_span(clause) == {"gte": "2024-12-01T00:00:00+00:00", "lt": "2025-01-01T00:00:00+00:00"}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("march", ["march"]),
        ("may flowers", ["may", "flowers"]),
        ("march 1999 2026", ["2026"]),
        ("may 12", ["may", "12"]),
    ],
)
def test_only_a_month_next_to_a_year_is_a_date(text: str, words: list[str]) -> None:
    assert [c["multi_match"]["query"] for c in _must(text) if "multi_match" in c] == words


def test_labels_and_text_outrank_the_filename() -> None:
    boosts = {f.split("^")[0]: float(f.split("^")[1]) if "^" in f else 1.0 for f in FREE_TEXT_FIELDS}
    assert boosts["labels"] > boosts["filename"]
    assert boosts["text"] > boosts["filename"]


def test_syntax_goes_through_query_string_without_leading_wildcards() -> None:
    body = build_search(OWNER, "label:dog AND rec*", SearchFilters(), limit=20).body()
    query_string = body["query"]["bool"]["must"][0]["query_string"]
    assert query_string["query"] == "labels:dog AND rec*"
    assert query_string["allow_leading_wildcard"] is False
    assert query_string["default_operator"] == "AND"


@pytest.mark.parametrize("text", ["/re.*/", "*eceipt", '"open'])
def test_refused_syntax_fails_before_any_request(text: str) -> None:
    with pytest.raises(QueryError):
        build_search(OWNER, text, SearchFilters(), limit=20)


def test_filters_are_exact_keyword_terms() -> None:
    filters = SearchFilters(category="Food", label="golden retriever", place="Paris", document_type="receipt")
    assert filters.clauses() == (
        {"term": {"categories.keyword": "Food"}},
        {"term": {"labels.keyword": "golden retriever"}},
        {"term": {"location.place.keyword": "Paris"}},
        {"term": {"document_type": "receipt"}},
    )


def test_a_date_range_covers_whole_days() -> None:
    (clause,) = SearchFilters(date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)).clauses()
    assert clause == {
        "range": {"effective_date": {"gte": "2024-01-01T00:00:00+00:00", "lt": "2025-01-01T00:00:00+00:00"}}
    }


def test_a_date_time_bound_is_taken_as_it_is() -> None:
    (clause,) = SearchFilters(date_to=datetime(2024, 5, 1, 12, 30, tzinfo=UTC)).clauses()
    assert clause == {"range": {"effective_date": {"lte": "2024-05-01T12:30:00+00:00"}}}


def test_from_after_to_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="after"):
        SearchFilters(date_from=date(2024, 2, 1), date_to=datetime(2024, 1, 1, 10, 0)).clauses()


def test_a_page_asks_for_one_hit_more_than_it_shows() -> None:
    assert build_search(OWNER, "", SearchFilters(), limit=20).body()["size"] == 21


def test_a_cursor_continues_after_its_sort_values() -> None:
    cursor = encode_cursor([3.5, 1700000000000, "img-9"], sort="relevance")
    body = build_search(OWNER, "dog", SearchFilters(), limit=20, cursor=cursor).body()
    assert body["search_after"] == [3.5, 1700000000000, "img-9"]


def test_facets_are_counted_with_the_first_page_only() -> None:
    first = build_search(OWNER, "dog", SearchFilters(), limit=20).body()
    assert set(first["aggs"]) >= {"categories", "labels", "places", "document_types"}
    cursor = encode_cursor([3.5, 1700000000000, "img-9"], sort="relevance")
    assert "aggs" not in build_search(OWNER, "dog", SearchFilters(), limit=20, cursor=cursor).body()


def test_a_cursor_from_another_kind_of_search_is_refused() -> None:
    browse_cursor = encode_cursor([1700000000000, "img-9"], sort="newest")
    with pytest.raises(InvalidCursor):
        build_search(OWNER, "dog", SearchFilters(), limit=20, cursor=browse_cursor)
    # Same shape, other direction: still refused rather than paging from the wrong place.
    with pytest.raises(InvalidCursor):
        build_search(OWNER, "", SearchFilters(), limit=20, cursor=browse_cursor, sort=SortOrder.OLDEST)


def test_hits_carry_only_what_a_hit_shows() -> None:
    source = build_search(OWNER, "dog", SearchFilters(), limit=20).body()["_source"]
    assert "text" not in source
    assert "owner_id" not in source


def test_suggestions_match_any_word_start_in_any_case() -> None:
    body = build_suggest(OWNER, "Ret", size=10).body()
    include = body["aggs"]["labels"]["terms"]["include"]
    # Lucene and Python agree on this subset of regular expressions.
    assert re.fullmatch(include, "golden retriever")
    assert re.fullmatch(include, "RETRO")
    assert not re.fullmatch(include, "secret")
    assert body["size"] == 0


def test_suggestion_patterns_escape_every_special_character() -> None:
    pattern = case_insensitive_pattern('a.b*(c)"#@&<>~|')
    assert pattern == '[aA]\\.[bB]\\*\\([cC]\\)\\"\\#\\@\\&\\<\\>\\~\\|'
    assert re.fullmatch(pattern, 'A.b*(C)"#@&<>~|')
    assert case_insensitive_pattern("São 12") == "[sS][ãÃ][oO]\\ 12"


def test_an_empty_prefix_suggests_the_most_frequent_values() -> None:
    aggs = build_suggest(OWNER, "  ", size=10).body()["aggs"]
    assert all("include" not in agg["terms"] for agg in aggs.values())


def test_every_field_a_request_names_is_mapped() -> None:
    fields = mapped_fields()
    named = {f.split("^")[0] for f in FREE_TEXT_FIELDS}
    named |= set(SUGGESTION_FIELDS.values()) | set(TERMS_FACETS.values()) | set(HIGHLIGHT["fields"])
    named |= {"effective_date", "receipt.date", "image_id", "owner_id", "deleted"}
    assert named <= fields


def test_the_index_is_versioned_behind_the_alias_and_routing_is_required() -> None:
    body: dict[str, Any] = index_body("pixtract-images", shards=2, replicas=0)
    assert index_name("pixtract-images") == "pixtract-images-v1"
    assert body["aliases"] == {"pixtract-images": {}}
    assert body["mappings"]["_routing"] == {"required": True}
    assert body["mappings"]["dynamic"] is False
    properties = body["mappings"]["properties"]
    assert properties["text"]["analyzer"] == "english"
    assert properties["text"]["fields"]["std"]["analyzer"] == "standard"
    assert properties["location"]["properties"]["point"]["type"] == "geo_point"
    assert properties["deleted"]["type"] == "boolean"
    assert body["settings"] == {"number_of_shards": 2, "number_of_replicas": 0}


@pytest.mark.parametrize(
    ("text", "requested", "resolved"),
    [
        ("dog", None, SortOrder.RELEVANCE),
        ("", None, SortOrder.NEWEST),
        ("  ", SortOrder.RELEVANCE, SortOrder.NEWEST),
        ("dog", SortOrder.NEWEST, SortOrder.NEWEST),
        ("dog", SortOrder.OLDEST, SortOrder.OLDEST),
        ("", SortOrder.OLDEST, SortOrder.OLDEST),
    ],
)
def test_relevance_needs_words_and_is_their_default(
    text: str, requested: SortOrder | None, resolved: SortOrder
) -> None:
    assert resolve_sort(text, requested) is resolved


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (
            SortOrder.RELEVANCE,
            [
                {"_score": {"order": "desc"}},
                {"effective_date": {"order": "desc", "missing": "_last"}},
                {"image_id": {"order": "asc"}},
            ],
        ),
        (
            SortOrder.NEWEST,
            [{"effective_date": {"order": "desc", "missing": "_last"}}, {"image_id": {"order": "asc"}}],
        ),
        (
            SortOrder.OLDEST,
            [{"effective_date": {"order": "asc", "missing": "_last"}}, {"image_id": {"order": "asc"}}],
        ),
    ],
)
def test_each_sort_ends_with_the_image_id_so_pages_never_overlap(sort: SortOrder, expected: list[Any]) -> None:
    assert build_search(OWNER, "dog", SearchFilters(), limit=20, sort=sort).body()["sort"] == expected


def test_sorted_by_date_a_text_search_still_scores_and_highlights() -> None:
    body = build_search(OWNER, "receipt", SearchFilters(), limit=20, sort=SortOrder.OLDEST).body()
    assert body["track_scores"] is True
    assert "highlight" in body
    assert "track_scores" not in build_search(OWNER, "receipt", SearchFilters(), limit=20).body()
    assert "track_scores" not in build_search(OWNER, "", SearchFilters(), limit=20, sort=SortOrder.OLDEST).body()


@pytest.mark.parametrize("sort", list(SortOrder))
def test_each_sort_continues_from_its_own_cursor(sort: SortOrder) -> None:
    values: list[str | int | float] = [1700000000000, "img-9"]
    if sort is SortOrder.RELEVANCE:
        values = [2.5, *values]
    cursor = encode_cursor(values, sort=sort.value)
    body = build_search(OWNER, "dog", SearchFilters(), limit=20, cursor=cursor, sort=sort).body()
    assert body["search_after"] == values
