"""API errors as the user should read them: the problem's title and detail, never a traceback.

The API answers errors as RFC 9457 problem documents (`{"type", "title", "status",
"detail"}` plus `errors` for validation failures). Something in between (a proxy's HTML
502, a server that is not Pixtract) answers whatever it likes; that is shown too, shortened.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx

BODY_EXCERPT_CHARS = 200


class CliError(Exception):
    """A failure the user can act on; its message is shown as is."""


class ApiError(CliError):
    """An error answer of the API, from its problem document."""

    def __init__(self, status: int, title: str, detail: str = "", errors: list[dict[str, Any]] | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        super().__init__(describe_problem(self))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def problem_from_body(status: int, body: bytes, content_type: str = "") -> ApiError:
    """What an error answer says, whether or not it is a problem document."""
    try:
        document = httpx.Response(status, content=body, headers={"content-type": content_type}).json()
    except ValueError:
        document = None
    if isinstance(document, dict) and ("title" in document or "detail" in document):
        errors = document.get("errors")
        return ApiError(
            status,
            str(document.get("title") or _phrase(status)),
            str(document.get("detail") or ""),
            [error for error in errors if isinstance(error, dict)] if isinstance(errors, list) else None,
        )
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if len(text) > BODY_EXCERPT_CHARS:
        text = text[: BODY_EXCERPT_CHARS - 1] + "…"
    return ApiError(status, _phrase(status), text)


async def api_error(response: httpx.Response) -> ApiError:
    """The ApiError of an answer, reading its body first if it was streamed."""
    body = await response.aread()
    return problem_from_body(response.status_code, body, response.headers.get("content-type", ""))


def _field(location: object) -> str:
    if not isinstance(location, list):
        return ""
    # "body" and "query" say where FastAPI looked, not what the user sent.
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts)


def describe_problem(error: ApiError) -> str:
    """`Title (status): detail`, then one line per invalid field."""
    line = f"{error.title} ({error.status})"
    if error.detail and error.detail != error.title:
        line += f": {error.detail}"
    lines = [line]
    for item in error.errors:
        field = _field(item.get("loc"))
        message = str(item.get("msg", "invalid"))
        lines.append(f"  - {field}: {message}" if field else f"  - {message}")
    return "\n".join(lines)


def describe_transport_error(error: httpx.TransportError, base_url: str) -> str:
    """A network failure in a sentence: which server, and what went wrong."""
    if isinstance(error, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(error, httpx.ConnectError):
        what = "cannot connect"
    else:
        what = "the connection failed"
    reason = str(error) or type(error).__name__
    return f"{base_url}: {what} ({reason})"
