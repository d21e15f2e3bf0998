from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from pixtract.common.auth import ImagesReader
from pixtract.common.errors import Problem
from pixtract.search.adapters.opensearch import IndexUnavailable
from pixtract.search.api.deps import ImageIndexDep
from pixtract.search.api.models import SearchResults, Suggestions
from pixtract.search.domain.cursor import InvalidCursor
from pixtract.search.domain.query_string import QueryError
from pixtract.search.domain.results import shape_search_page, shape_suggestions
from pixtract.search.domain.search import SearchFilters, SortOrder, build_search, build_suggest, resolve_sort

MAX_QUERY_CHARS = 500
SUGGESTION_LIMIT = 10
RETRY_AFTER_S = "5"

router = APIRouter(prefix="/api/v1/search", tags=["search"])


class SearchParams(BaseModel):
    q: str = Field(default="", max_length=MAX_QUERY_CHARS)
    category: str | None = Field(default=None, max_length=256)
    label: str | None = Field(default=None, max_length=256)
    place: str | None = Field(default=None, max_length=256)
    # A date means the whole day; a date-time is taken as it is.
    date_from: date | datetime | None = Field(default=None, alias="from")
    date_to: date | datetime | None = Field(default=None, alias="to")
    document_type: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = None
    # Default: relevance when there is a query, newest otherwise.
    sort: SortOrder | None = None

    def filters(self) -> SearchFilters:
        return SearchFilters(
            category=self.category,
            label=self.label,
            place=self.place,
            document_type=self.document_type,
            date_from=self.date_from,
            date_to=self.date_to,
        )


class SuggestParams(BaseModel):
    q: str = Field(default="", max_length=100)


@contextmanager
def _problems() -> Iterator[None]:
    try:
        yield
    except InvalidCursor as exc:
        raise Problem(400, str(exc), slug="invalid-cursor") from exc
    except QueryError as exc:
        raise Problem(400, str(exc), slug="invalid-query", title="Invalid search query") from exc
    except IndexUnavailable as exc:
        raise Problem(
            503, "Search is unavailable right now; try again shortly.", headers={"Retry-After": RETRY_AFTER_S}
        ) from exc


@router.get("", response_model=SearchResults)
async def search_images(
    principal: ImagesReader, index: ImageIndexDep, params: Annotated[SearchParams, Query()]
) -> SearchResults:
    """Search your images by words, Lucene-style syntax and filters."""
    with _problems():
        order = resolve_sort(params.q, params.sort)
        request = build_search(
            principal.user_id, params.q, params.filters(), limit=params.limit, cursor=params.cursor, sort=order
        )
        response = await index.search(request)
    return SearchResults.model_validate(shape_search_page(response, params.limit, order))


@router.get("/suggest", response_model=Suggestions)
async def suggest(
    principal: ImagesReader, index: ImageIndexDep, params: Annotated[SuggestParams, Query()]
) -> Suggestions:
    """Complete what you are typing from your own labels, categories, places and vendors."""
    with _problems():
        response = await index.search(build_suggest(principal.user_id, params.q, size=SUGGESTION_LIMIT))
    return Suggestions(suggestions=shape_suggestions(response, SUGGESTION_LIMIT))
