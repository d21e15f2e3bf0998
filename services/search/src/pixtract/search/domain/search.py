"""Search and suggestion requests, built as plain OpenSearch bodies (no network here).

Every request is an OwnerScopedSearch: the only place the owner filter, the tombstone
exclusion and the routing are added, so no query can ever see another user's images.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pixtract.search.domain.cursor import SortValue, decode_cursor
from pixtract.search.domain.query_string import QueryError, rewrite_query_string, uses_query_syntax

Query = dict[str, Any]

# Where free text looks, with boosts: what the image shows and says outranks its file name.
FREE_TEXT_FIELDS = (
    "labels^4",
    "categories^3",
    "text^3",
    "text.std^2",
    "label_parents^2",
    "location.place^2",
    "location.country^1.5",
    "receipt.vendor^2",
    "camera.make",
    "camera.model",
    "filename",
    "filename.std",
)
# Lucene's English stop words: required words are what the person means, not these.
ENGLISH_STOP_WORDS = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with"
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS.split())
# A month name next to a year ("march 2026", "Dec 2024") is a date, not two words to find.
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
YEAR = re.compile(r"(19|20)\d\d")
HIT_SOURCE = ("image_id", "filename", "labels", "categories", "taken_at")
FACET_SIZE = 20
SUGGESTION_FIELDS = {
    "labels": "labels.keyword",
    "categories": "categories.keyword",
    "places": "location.place.keyword",
    "vendors": "receipt.vendor.keyword",
}
# Terms facets: response name -> keyword field.
TERMS_FACETS = {
    "categories": "categories.keyword",
    "labels": "labels.keyword",
    "places": "location.place.keyword",
    "document_types": "document_type",
}
HIGHLIGHT = {
    # The snippets are shown as HTML: escape the OCR text, keep only our <em> marks.
    "encoder": "html",
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
    "fields": {
        "text": {"fragment_size": 150, "number_of_fragments": 3},
        "text.std": {"fragment_size": 150, "number_of_fragments": 3},
        "labels": {"number_of_fragments": 0},
    },
}


class SortOrder(StrEnum):
    """How a page is ordered. Dates are the effective date (taken, else uploaded); images
    without one come last either way, and the image id breaks ties so cursors are stable."""

    RELEVANCE = "relevance"
    NEWEST = "newest"
    OLDEST = "oldest"


def resolve_sort(text: str, requested: SortOrder | None) -> SortOrder:
    """Relevance when there are words to be relevant to, newest otherwise, unless asked."""
    if not text.strip():
        # Without words every score is equal: relevance would be newest-first anyway.
        return SortOrder.NEWEST if requested in (None, SortOrder.RELEVANCE) else requested
    return requested or SortOrder.RELEVANCE


def _by_date(order: str) -> list[dict[str, Any]]:
    return [{"effective_date": {"order": order, "missing": "_last"}}, {"image_id": {"order": "asc"}}]


SORTS: dict[SortOrder, list[dict[str, Any]]] = {
    SortOrder.RELEVANCE: [{"_score": {"order": "desc"}}, *_by_date("desc")],
    SortOrder.NEWEST: _by_date("desc"),
    SortOrder.OLDEST: _by_date("asc"),
}


@dataclass(frozen=True)
class OwnerScopedSearch:
    """A search that sees only one owner's live documents, and is routed to that owner's shard."""

    owner_id: str
    query: Query
    filters: tuple[Query, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.owner_id:
            raise ValueError("a search must be scoped to an owner")

    @property
    def routing(self) -> str:
        return self.owner_id

    def body(self) -> dict[str, Any]:
        scoped = {
            "bool": {
                "must": [self.query],
                "filter": [{"term": {"owner_id": self.owner_id}}, *self.filters],
                # Tombstones: a deleted image stays hidden whatever late event touched it.
                "must_not": [{"term": {"deleted": True}}],
            }
        }
        # Set last, so nothing in the options can replace the scoped query.
        return {**self.options, "query": scoped}


@dataclass(frozen=True)
class SearchFilters:
    category: str | None = None
    label: str | None = None
    place: str | None = None
    document_type: str | None = None
    # Compared with the effective date (taken, else uploaded); a bare date means the whole day.
    date_from: date | datetime | None = None
    date_to: date | datetime | None = None

    def clauses(self) -> tuple[Query, ...]:
        exact = (
            ("categories.keyword", self.category),
            ("labels.keyword", self.label),
            ("location.place.keyword", self.place),
            ("document_type", self.document_type),
        )
        clauses: list[Query] = [{"term": {name: value}} for name, value in exact if value]
        if self.date_from is not None and self.date_to is not None and _start(self.date_from) > _start(self.date_to):
            raise QueryError("'from' is after 'to'.")
        date_range: dict[str, str] = {}
        if self.date_from is not None:
            date_range["gte"] = _start(self.date_from).isoformat()
        if self.date_to is not None:
            if isinstance(self.date_to, datetime):
                date_range["lte"] = _start(self.date_to).isoformat()
            else:
                date_range["lt"] = _start(self.date_to + timedelta(days=1)).isoformat()
        if date_range:
            clauses.append({"range": {"effective_date": date_range}})
        return tuple(clauses)


def _start(moment: date | datetime) -> datetime:
    """As an aware datetime; dates and naive times are UTC, as stored."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def free_text_query(text: str) -> Query:
    """Every meaningful word must match some field (typos forgiven), and a month with its year
    ("march 2026") the image's date, a receipt's date or the text; the whole phrase ranks higher."""
    words, months = _months_named(text.split())
    required = [w for w in words if w.lower() not in STOP_WORDS] or ([] if months else words)
    word_clauses: list[Query] = [
        {
            "multi_match": {
                "query": word,
                "fields": list(FREE_TEXT_FIELDS),
                # All pieces of one word ("t-shirt", "IMG_0001.JPG") in the same field.
                "operator": "and",
                "fuzziness": "AUTO",
                "prefix_length": 1,
                "max_expansions": 50,
            }
        }
        for word in required
    ]
    return {
        "bool": {
            "must": word_clauses + [_within_month(typed, first) for typed, first in months],
            "should": [
                {"multi_match": {"query": text, "type": "phrase", "fields": ["text", "labels", "filename"], "boost": 2}}
            ],
        }
    }


def _months_named(words: list[str]) -> tuple[list[str], list[tuple[str, date]]]:
    """The words that are not part of a month-and-year pair, and each pair with its month's first day."""
    rest: list[str] = []
    months: list[tuple[str, date]] = []
    at = 0
    while at < len(words):
        pair = words[at : at + 2]
        if len(pair) == 2 and (first := _month_of(*pair)) is not None:
            months.append((" ".join(pair), first))
            at += 2
        else:
            rest.append(words[at])
            at += 1
    return rest, months


def _month_of(one: str, other: str) -> date | None:
    one, other = one.strip(",.").lower(), other.strip(",.").lower()
    for month, year in ((one, other), (other, one)):
        if month in MONTHS and YEAR.fullmatch(year):
            return date(int(year), MONTHS[month], 1)
    return None


def _within_month(typed: str, first: date) -> Query:
    following = (first + timedelta(days=31)).replace(day=1)
    span = {"gte": _start(first).isoformat(), "lt": _start(following).isoformat()}
    return {
        "bool": {
            "should": [
                {"range": {"effective_date": span}},
                {"range": {"receipt.date": span}},
                # Written out in the text ("March 2026" on a letter).
                {"multi_match": {"query": typed, "fields": ["text", "text.std"], "operator": "and"}},
            ],
            "minimum_should_match": 1,
        }
    }


def syntax_query(text: str) -> Query:
    return {
        "query_string": {
            "query": rewrite_query_string(text),
            "fields": list(FREE_TEXT_FIELDS),
            "default_operator": "AND",
            "allow_leading_wildcard": False,
            "analyze_wildcard": True,
            # A word in a numeric or date field ("faces:many") matches nothing instead of failing.
            "lenient": True,
            "fuzziness": "AUTO",
        }
    }


def text_query(text: str) -> Query:
    text = text.strip()
    if not text:
        return {"match_all": {}}
    return syntax_query(text) if uses_query_syntax(text) else free_text_query(text)


def sort_for(order: SortOrder) -> list[dict[str, Any]]:
    return [dict(clause) for clause in SORTS[order]]


def facet_aggregations() -> dict[str, Any]:
    aggs: dict[str, Any] = {name: {"terms": {"field": path, "size": FACET_SIZE}} for name, path in TERMS_FACETS.items()}
    aggs["years"] = {
        "date_histogram": {"field": "effective_date", "calendar_interval": "year", "format": "yyyy", "min_doc_count": 1}
    }
    return aggs


def build_search(
    owner_id: str,
    text: str,
    filters: SearchFilters,
    *,
    limit: int,
    cursor: str | None = None,
    sort: SortOrder | None = None,
) -> OwnerScopedSearch:
    """One page of the owner's images matching `text` and `filters`; one extra hit tells if a next page exists."""
    order = resolve_sort(text, sort)
    sort_clauses = sort_for(order)
    options: dict[str, Any] = {
        "size": limit + 1,
        "sort": sort_clauses,
        "track_total_hits": True,
        "_source": list(HIT_SOURCE),
    }
    if cursor is None:
        # Facets describe the whole result, not a page: counted once, with the first page.
        # (Over a large library they cost more than the page itself.)
        options["aggs"] = facet_aggregations()
    if text.strip():
        options["highlight"] = HIGHLIGHT
        if order is not SortOrder.RELEVANCE:
            # Sorted by date OpenSearch skips scoring; hits still show how well they matched.
            options["track_scores"] = True
    if cursor is not None:
        after: list[SortValue] = decode_cursor(cursor, sort=order.value, expected_length=len(sort_clauses))
        options["search_after"] = after
    return OwnerScopedSearch(owner_id, text_query(text), filters.clauses(), options)


def case_insensitive_pattern(prefix: str) -> str:
    """A Lucene regular expression for `prefix` in any case, every other character escaped."""
    out: list[str] = []
    for ch in prefix:
        lower, upper = ch.lower(), ch.upper()
        if ch.isalnum() and lower != upper and len(lower) == 1 and len(upper) == 1:
            out.append(f"[{lower}{upper}]")
        elif ch.isalnum():
            out.append(ch)
        else:
            out.append("\\" + ch)
    return "".join(out)


def build_suggest(owner_id: str, prefix: str, *, size: int) -> OwnerScopedSearch:
    """The owner's own labels, categories, places and vendors with a word starting with `prefix`."""
    terms: dict[str, Any] = {"size": size}
    if prefix := " ".join(prefix.split()):
        # At the start of the value or of any later word: "ret" suggests "golden retriever".
        # (Every image of the owner is counted: narrowing by a prefix query on the stemmed
        # text fields would miss "runni" in "running shoe", whose stem is "run".)
        terms["include"] = f"(.*[ \\-])?{case_insensitive_pattern(prefix)}.*"
    aggs = {name: {"terms": {**terms, "field": path}} for name, path in SUGGESTION_FIELDS.items()}
    return OwnerScopedSearch(owner_id, {"match_all": {}}, (), {"size": 0, "aggs": aggs})
