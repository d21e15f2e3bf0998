"""Resumable uploads with the tus 1.0 protocol (core, creation, termination, checksum, expiration).

A client creates an upload (POST with `Upload-Length`), sends its bytes in one or more
PATCHes (`Upload-Offset` = where the bytes go), and after an interruption asks HEAD where
the server is and continues from there. The PATCH that delivers the last byte runs the file
through the same pipeline as `POST /api/v1/images` and answers 204 with `Pixtract-Image-Id`
(and `Pixtract-Duplicate: true` for bytes the caller already had), or the same problem as a
multipart upload of that file would. Every answer carries `Tus-Resumable: 1.0.0`.

Uploads are owner-scoped: another user's upload answers 404, like one that does not exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from pixtract.common.auth import CurrentPrincipal, ImagesWriter, Principal
from pixtract.common.errors import Problem
from pixtract.common.logging import get_logger
from pixtract.upload.adapters.uploads import UploadDocument, UploadState
from pixtract.upload.api.deps import Resumable
from pixtract.upload.api.refusals import refusal_problem
from pixtract.upload.domain import formats
from pixtract.upload.domain.inspection import UnsupportedImage
from pixtract.upload.domain.resumable import (
    CHECKSUM_ALGORITHMS,
    CHECKSUM_MISMATCH_STATUS,
    OFFSET_OCTET_STREAM,
    TUS_EXTENSIONS,
    TUS_VERSION,
    MalformedHeader,
    encode_upload_metadata,
    http_date,
    metadata_filename,
    parse_non_negative,
    parse_upload_checksum,
    parse_upload_metadata,
)
from pixtract.upload.ingest import FileRefused
from pixtract.upload.resumable import (
    ChecksumMismatch,
    ExceedsLength,
    OffsetMismatch,
    UploadDataLost,
    UploadExpired,
    UploadLocked,
    UploadNotFound,
)

IMAGE_ID_HEADER = "Pixtract-Image-Id"
DUPLICATE_HEADER = "Pixtract-Duplicate"

log = get_logger(__name__)


class TusRoute(APIRoute):
    """Puts the server's `Tus-Resumable` on every answer, errors included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def tus_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Problem as exc:
                exc.headers = {**(exc.headers or {}), "Tus-Resumable": TUS_VERSION}
                raise
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return tus_handler


router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"], route_class=TusRoute)


async def _tus_writer(request: Request, principal: ImagesWriter) -> Principal:
    """The caller first (an unauthenticated request learns nothing but 401), then the protocol version."""
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise Problem(
            412,
            f"This server speaks tus {TUS_VERSION}: send `Tus-Resumable: {TUS_VERSION}`.",
            slug="tus-version-unsupported",
            headers={"Tus-Version": TUS_VERSION},
        )
    return principal


# Every route but OPTIONS (how a client learns the versions, so it need not name one).
TusWriter = Annotated[Principal, Depends(_tus_writer)]


def _not_found() -> Problem:
    return Problem(404, "No upload with this id.", slug="upload-not-found")


@contextmanager
def _as_problems(filename: str | None = None) -> Iterator[None]:
    """The resumable-upload outcomes as the tus status codes, with problem+json bodies."""
    try:
        yield
    except UploadNotFound as exc:
        raise _not_found() from exc
    except UploadExpired as exc:
        raise Problem(410, "This upload expired; start a new one.", slug="upload-expired") from exc
    except UploadDataLost as exc:
        raise Problem(410, "The bytes of this upload were lost; start a new one.", slug="upload-lost") from exc
    except OffsetMismatch as exc:
        raise Problem(
            409,
            f"Upload-Offset does not match: the upload is at {exc.current}; ask HEAD and continue from there.",
            slug="upload-offset-mismatch",
            headers={"Upload-Offset": str(exc.current)},
        ) from exc
    except UploadLocked as exc:
        raise Problem(423, "Another request is writing to this upload; retry shortly.", slug="upload-locked") from exc
    except ExceedsLength as exc:
        raise Problem(413, "The bytes go past the declared Upload-Length.", slug="upload-length-exceeded") from exc
    except ChecksumMismatch as exc:
        raise Problem(
            CHECKSUM_MISMATCH_STATUS,
            "The PATCH body does not match its Upload-Checksum; none of it was kept. Send it again.",
            slug="checksum-mismatch",
            title="Checksum Mismatch",
        ) from exc
    except MalformedHeader as exc:
        raise Problem(400, f"{exc}.", slug="malformed-tus-header") from exc
    except FileRefused as exc:
        raise refusal_problem(exc) from exc


async def _body_until_disconnect(request: Request) -> AsyncIterator[bytes]:
    """The PATCH body; a client that goes away ends it early, and what arrived is kept."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        log.info("client went away during a PATCH; keeping what arrived", path=request.url.path)


def _location(upload_id: str) -> str:
    return f"{router.prefix}/{upload_id}"


def _status_headers(document: UploadDocument) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(document["offset"]),
        "Upload-Length": str(document["length"]),
        "Cache-Control": "no-store",
    }
    if document.get("metadata"):
        headers["Upload-Metadata"] = encode_upload_metadata(document["metadata"])
    if document["state"] == UploadState.COMPLETED.value and document.get("image_id"):
        headers[IMAGE_ID_HEADER] = str(document["image_id"])
    else:
        headers["Upload-Expires"] = http_date(document["expires_at"])
    return headers


@router.options("", status_code=204)
async def tus_discovery(principal: CurrentPrincipal, resumable: Resumable) -> Response:
    """tus discovery: the version, extensions, largest upload and checksum algorithms."""
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": ",".join(TUS_EXTENSIONS),
            "Tus-Max-Size": str(resumable.limits.max_length),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@router.post("", status_code=201, responses={201: {"description": "Created; `Location` names the upload"}})
async def create_upload(
    principal: TusWriter,
    resumable: Resumable,
    upload_length: Annotated[str | None, Header()] = None,
    upload_metadata: Annotated[str | None, Header()] = None,
    upload_defer_length: Annotated[str | None, Header()] = None,
) -> Response:
    """Create a resumable upload of `Upload-Length` bytes (`Upload-Metadata`: `filename`)."""
    if upload_defer_length is not None:
        raise Problem(400, "Upload-Defer-Length is not supported: send Upload-Length.", slug="malformed-tus-header")
    with _as_problems():
        length = parse_non_negative("Upload-Length", upload_length)
        metadata = parse_upload_metadata(upload_metadata)
    max_length = resumable.limits.max_length
    if length > max_length:
        raise Problem(
            413,
            f"Upload-Length {length:,} is larger than the {max_length:,}-byte limit per file.",
            slug="payload-too-large",
            headers={"Tus-Max-Size": str(max_length)},
        )
    if length == 0:
        raise refusal_problem(FileRefused(1, metadata_filename(metadata), UnsupportedImage(formats.EMPTY)))
    document = await resumable.create(principal.user_id, length, metadata)
    return Response(
        status_code=201,
        headers={
            "Location": _location(document["_id"]),
            "Upload-Offset": "0",
            "Upload-Expires": http_date(document["expires_at"]),
        },
    )


@router.head("/{upload_id}", responses={200: {"description": "`Upload-Offset` says where to continue"}})
async def upload_offset(upload_id: str, principal: TusWriter, resumable: Resumable) -> Response:
    """Where an upload stands: `Upload-Offset` of `Upload-Length` bytes are stored."""
    with _as_problems():
        document = await resumable.status(principal.user_id, upload_id)
    return Response(status_code=200, headers=_status_headers(document))


@router.patch("/{upload_id}", status_code=204)
async def append_to_upload(
    upload_id: str,
    request: Request,
    principal: TusWriter,
    resumable: Resumable,
    content_type: Annotated[str | None, Header()] = None,
    upload_offset: Annotated[str | None, Header()] = None,
    upload_checksum: Annotated[str | None, Header()] = None,
    content_length: Annotated[str | None, Header()] = None,
) -> Response:
    """Store bytes at `Upload-Offset`; the last ones turn the upload into an image (`Pixtract-Image-Id`)."""
    if (content_type or "").split(";")[0].strip().lower() != OFFSET_OCTET_STREAM:
        raise Problem(415, f"A PATCH body must be sent as {OFFSET_OCTET_STREAM}.", slug="unsupported-media-type")
    with _as_problems():
        offset = parse_non_negative("Upload-Offset", upload_offset)
        checksum = parse_upload_checksum(upload_checksum)
        declared = parse_non_negative("Content-Length", content_length) if content_length is not None else None
        result = await resumable.append(
            principal.user_id,
            upload_id,
            offset=offset,
            body=_body_until_disconnect(request),
            content_length=declared,
            checksum=checksum,
        )
    headers = {"Upload-Offset": str(result.offset)}
    if result.image is None:
        headers["Upload-Expires"] = http_date(result.expires_at)
    else:
        headers[IMAGE_ID_HEADER] = str(result.image.document["_id"])
        if result.image.duplicate:
            headers[DUPLICATE_HEADER] = "true"
    return Response(status_code=204, headers=headers)


@router.delete("/{upload_id}", status_code=204)
async def terminate_upload(upload_id: str, principal: TusWriter, resumable: Resumable) -> Response:
    """Termination: the upload and every byte of it are removed (an image it made stays)."""
    with _as_problems():
        await resumable.terminate(principal.user_id, upload_id)
    return Response(status_code=204)
