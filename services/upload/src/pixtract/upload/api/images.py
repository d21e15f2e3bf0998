"""The Images API (API.md): upload, list, read, download, thumbnails, delete.

Every query is scoped to the caller's id from the token; an image of another user and an
image that does not exist both answer 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from pixtract.common.auth import ImagesReader, ImagesWriter
from pixtract.common.errors import Problem
from pixtract.events.topics import IMAGES_DELETED
from pixtract.upload.api.caching import if_none_match_hits
from pixtract.upload.api.deps import Images, Ingest, Media, OutboxRelayTask, SettingsDep
from pixtract.upload.api.models import ImageListOut, ImageOut, ImageSummaryOut, UploadedImageOut, UploadOut
from pixtract.upload.api.multipart import FILES_FIELD, UploadLimits, receive_files
from pixtract.upload.api.refusals import refusal_problem
from pixtract.upload.config import DownloadMode
from pixtract.upload.domain.cursor import MalformedCursor, PageCursor, decode_cursor, encode_cursor
from pixtract.upload.domain.filenames import attachment_disposition
from pixtract.upload.domain.inspection import THUMBNAIL_MEDIA_TYPE, ThumbnailSize
from pixtract.upload.domain.outbox import outbox_entry
from pixtract.upload.domain.records import ImageDocument, image_deleted_event, image_keys, now_millis
from pixtract.upload.ingest import FileRefused

router = APIRouter(prefix="/api/v1/images", tags=["images"])

# The body is parsed as a stream by hand, so FastAPI cannot describe it by itself.
UPLOAD_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILES_FIELD],
                    "properties": {FILES_FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            }
        },
    }
}


def _not_found() -> Problem:
    return Problem(404, "No image with this id.", slug="image-not-found")


async def _live_image(images: Images, owner_id: str, image_id: str) -> ImageDocument:
    document = await images.get_live(owner_id, image_id)
    if document is None:
        raise _not_found()
    return document


@router.post("", status_code=201, openapi_extra=UPLOAD_REQUEST_BODY)
async def upload_images(request: Request, principal: ImagesWriter, ingest: Ingest, settings: SettingsDep) -> UploadOut:
    """Upload images: one or more multipart parts named `files`."""
    limits = UploadLimits(
        max_file_bytes=settings.max_file_bytes,
        max_files=settings.max_files,
        spool_memory_bytes=settings.spool_memory_bytes,
        spool_dir=settings.spool_dir,
    )
    files = await receive_files(request.headers.get("content-type"), request.stream(), limits)
    try:
        stored = await ingest.ingest(principal.user_id, files)
    except FileRefused as exc:
        raise refusal_problem(exc) from exc
    finally:
        for received in files:
            received.close()
    return UploadOut(
        images=[
            UploadedImageOut(**ImageSummaryOut.from_document(image.document).model_dump(), duplicate=image.duplicate)
            for image in stored
        ]
    )


@router.get("")
async def list_images(
    principal: ImagesReader,
    images: Images,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    category: str | None = None,
    label: str | None = None,
) -> ImageListOut:
    """List the caller's images, newest first."""
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except MalformedCursor as exc:
        raise Problem(400, "The cursor is not one this API returned.", slug="malformed-cursor") from exc
    found = await images.list_live(principal.user_id, limit=limit + 1, after=after, category=category, label=label)
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = page[-1]
        next_cursor = encode_cursor(PageCursor(last["uploaded_at"], last["_id"]))
    return ImageListOut(items=[ImageSummaryOut.from_document(document) for document in page], next_cursor=next_cursor)


@router.get("/{image_id}")
async def get_image(image_id: str, principal: ImagesReader, images: Images) -> ImageOut:
    """One image with its metadata, results and pipeline state."""
    return ImageOut.from_document(await _live_image(images, principal.user_id, image_id))


@router.get(
    "/{image_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/*": {}}}, 307: {"description": "Redirect to a short-lived signed URL"}},
)
async def download_original(
    image_id: str, principal: ImagesReader, images: Images, media: Media, settings: SettingsDep
) -> Response:
    """The original bytes, as uploaded."""
    document = await _live_image(images, principal.user_id, image_id)
    key = document["original"]["key"]
    disposition = attachment_disposition(document["filename"])
    if settings.download_mode is DownloadMode.REDIRECT:
        url = await media.presigned_download(key, expires_s=settings.presign_seconds, content_disposition=disposition)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    download = await media.open_download(key)
    if download is None:
        raise _not_found()
    return StreamingResponse(
        download.chunks,
        media_type=document["content_type"],
        headers={"Content-Length": str(download.content_length), "Content-Disposition": disposition},
    )


@router.get("/{image_id}/thumbnail", responses={200: {"content": {THUMBNAIL_MEDIA_TYPE: {}}}, 304: {}})
async def get_thumbnail(
    image_id: str,
    principal: ImagesReader,
    images: Images,
    media: Media,
    settings: SettingsDep,
    size: ThumbnailSize = ThumbnailSize.SMALL,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A WebP thumbnail, upright (small: 256 px, large: 1280 px on the longest side)."""
    document = await _live_image(images, principal.user_id, image_id)
    thumbnail = document.get("thumbnails", {}).get(size.value)
    if thumbnail is None:
        raise _not_found()
    etag = f'"{thumbnail["etag"]}"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={settings.thumbnail_max_age_seconds}"}
    if if_none_match_hits(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    data = await media.read(thumbnail["key"])
    if data is None:
        raise _not_found()
    return Response(data, media_type=THUMBNAIL_MEDIA_TYPE, headers=headers)


@router.delete("/{image_id}", status_code=204)
async def delete_image(
    image_id: str, principal: ImagesWriter, images: Images, media: Media, relay: OutboxRelayTask
) -> Response:
    """Delete an image: gone from listings at once, then from search and storage."""
    deleted_at = now_millis()
    event = image_deleted_event(image_id, principal.user_id, deleted_at)
    entry = outbox_entry(IMAGES_DELETED, event, key=image_id)
    document = await images.mark_deleted(principal.user_id, image_id, deleted_at, entry)
    if document is None:
        raise _not_found()
    relay.wake()
    # The relay removes the objects again before it purges the record, should this fail.
    await media.delete_keys_quietly(image_keys(document))
    return Response(status_code=204)
