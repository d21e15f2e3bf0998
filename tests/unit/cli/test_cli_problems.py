"""API errors shown as the problem's title and detail."""

from __future__ import annotations

import httpx
import pytest

from pixtract.cli.problems import ApiError, describe_problem, describe_transport_error, problem_from_body
from pixtract.cli.render import format_bytes, highlighted, parse_size


def test_a_problem_document_reads_as_title_and_detail() -> None:
    body = b'{"type": "https://pixtract.dev/problems/unsupported-image-type", "title": "Unsupported Media Type",'
    body += b' "status": 415, "detail": "notes.txt is not a supported image: detected text."}'
    error = problem_from_body(415, body, "application/problem+json")
    assert str(error) == "Unsupported Media Type (415): notes.txt is not a supported image: detected text."


def test_validation_errors_list_each_field() -> None:
    error = ApiError(
        422,
        "Unprocessable Content",
        "The request is not valid.",
        [
            {"loc": ["body", "sha256", 0], "msg": "String should match pattern", "type": "string_pattern_mismatch"},
            {"loc": ["query", "limit"], "msg": "Input should be less than or equal to 100"},
            {"msg": "something else"},
        ],
    )
    assert describe_problem(error).splitlines() == [
        "Unprocessable Content (422): The request is not valid.",
        "  - sha256.0: String should match pattern",
        "  - limit: Input should be less than or equal to 100",
        "  - something else",
    ]


def test_an_answer_that_is_not_a_problem_is_shortened() -> None:
    html = b"<html><body>" + b"<p>Bad gateway</p>" * 50 + b"</body></html>"
    error = problem_from_body(502, html, "text/html")
    assert error.title == "Bad Gateway"
    assert error.detail.startswith("<html><body><p>Bad gateway</p>")
    assert len(error.detail) == 200
    assert str(problem_from_body(599, b"")) == "HTTP 599 (599)"


def test_a_title_alone_is_not_repeated() -> None:
    assert str(ApiError(404, "Not Found", "Not Found")) == "Not Found (404)"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            "http://h: cannot connect ([Errno 111] Connection refused)",
        ),
        (httpx.ReadTimeout("read timed out"), "http://h: timed out (read timed out)"),
        (httpx.RemoteProtocolError(""), "http://h: the connection failed (RemoteProtocolError)"),
    ],
)
def test_network_errors_are_one_sentence(error: httpx.TransportError, expected: str) -> None:
    assert describe_transport_error(error, "http://h") == expected


def test_sizes() -> None:
    assert parse_size("32MiB") == parse_size("32M") == parse_size("32m") == 32 * 1024 * 1024
    assert parse_size("1GB") == 1_000_000_000
    assert parse_size("1048576") == 1048576
    assert parse_size("1.5k") == 1536
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
    assert format_bytes(0) == "0 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(100 * 1024 * 1024) == "100.0 MiB"


def test_highlights_become_bold_text_and_markup_stays_literal() -> None:
    text = highlighted("a <em>light</em>house [bold]not markup[/bold] <em>keeper</em>")
    assert text.plain == "a lighthouse [bold]not markup[/bold] keeper"
    bold = [text.plain[span.start : span.end] for span in text.spans if span.style]
    assert bold == ["light", "keeper"]
