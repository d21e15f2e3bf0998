"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error a service answers goes through here, so clients always get
`{"type", "title", "status", "detail"}` (plus `errors` for validation failures) and never
a stack trace or a bare 500 page.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixtract.common.dependencies import CLIENT_ERRORS, outage_behind
from pixtract.common.logging import get_logger

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://pixtract.dev/problems/"

log = get_logger(__name__)


class Problem(Exception):
    """Raise to answer with a problem document; `slug` becomes the problem type URI."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.slug = slug or self.title.lower().replace(" ", "-")
        self.headers = headers
        self.errors = errors


# Seconds a client is asked to wait when a backing service is down.
DEPENDENCY_RETRY_AFTER_S = 5


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    title = title or HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, slug=exc.slug, title=exc.title, headers=exc.headers, errors=exc.errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422, "The request is not valid.", slug="validation-error", errors=_validation_errors(exc)
        )

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if outage := outage_behind(exc):
            # The client may simply try again (uploads are deduplicated by their bytes).
            dependency, cause = outage
            log.warning("dependency unavailable", path=request.url.path, dependency=dependency, error=repr(cause))
            return problem_response(
                503,
                f"{dependency} is unavailable right now; try again shortly.",
                slug="dependency-unavailable",
                headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER_S)},
            )
        log.exception("unhandled error", path=request.url.path)
        return problem_response(500, "An unexpected error occurred; it has been logged.")

    # Starlette gives the handler of `Exception` to its outermost middleware, which answers and
    # then raises again: the request log and latency metric would count each outage's 503 as
    # a 500, and the server would log a traceback for it. Handlers of the client libraries' own
    # error types run inside the app, like every other handler.
    for error_type in CLIENT_ERRORS:
        app.add_exception_handler(error_type, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
