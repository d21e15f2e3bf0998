"""Endpoints for other Pixtract services only: never routed by the ingress, and each caller
must present the shared internal token (`pixtract.common.auth.InternalCaller`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pixtract.common.auth import InternalCaller
from pixtract.common.errors import Problem
from pixtract.upload.api.deps import Images
from pixtract.upload.domain.export import (
    MAX_CURSOR_CHARS,
    MalformedExportCursor,
    decode_export_cursor,
    encode_export_cursor,
    export_item,
)

DEFAULT_EXPORT_PAGE = 500
MAX_EXPORT_PAGE = 1000

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller])


class ExportedImage(BaseModel):
    image_id: str
    owner_id: str
    indexed: list[str]
    # The events that built the record, as protobuf JSON; a result is null until its stage is done.
    uploaded: dict[str, Any]
    tagged: dict[str, Any] | None
    text_extracted: dict[str, Any] | None


class ExportPage(BaseModel):
    items: list[ExportedImage]
    next_cursor: str | None


@router.get("/images")
async def export_images(
    images: Images,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_PAGE)] = DEFAULT_EXPORT_PAGE,
) -> ExportPage:
    """Every live image of every owner, in id order, for rebuilding the search index."""
    try:
        after = decode_export_cursor(cursor) if cursor is not None else None
    except MalformedExportCursor as exc:
        raise Problem(400, "The cursor is not valid: pass the next_cursor of the previous page.") from exc
    # One more than asked tells whether another page follows.
    found = await images.live_page(after_id=after, limit=limit + 1)
    page = found[:limit]
    next_cursor = encode_export_cursor(page[-1]["_id"]) if len(found) > limit else None
    return ExportPage(items=[ExportedImage.model_validate(export_item(doc)) for doc in page], next_cursor=next_cursor)
