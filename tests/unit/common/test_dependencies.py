"""A backing service that is down is told apart from every other failure: 503 over HTTP,
retried (never dead-lettered) by consumers."""

from __future__ import annotations

import json

import pytest
from aiokafka.errors import KafkaConnectionError
from botocore.exceptions import ClientError, EndpointConnectionError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError
from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError

from pixtract.common.dependencies import CLIENT_ERRORS, run_command, unavailable_dependency
from pixtract.common.errors import install_problem_handlers


def _s3_error(status: int) -> ClientError:
    return ClientError({"Error": {"Code": str(status)}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(
    ("exc", "dependency"),
    [
        (ServerSelectionTimeoutError("no servers"), "MongoDB"),
        (EndpointConnectionError(endpoint_url="http://s3"), "S3"),
        (_s3_error(503), "S3"),
        (OpenSearchConnectionError("N/A", "refused", None), "OpenSearch"),
        (TransportError(429, "too many requests"), "OpenSearch"),
        (KafkaConnectionError("refused"), "Kafka"),
    ],
)
def test_an_unreachable_dependency_is_named(exc: Exception, dependency: str) -> None:
    assert unavailable_dependency(exc) == dependency
    # ... and its type has an HTTP handler inside the app (see install_problem_handlers).
    assert isinstance(exc, CLIENT_ERRORS)


@pytest.mark.parametrize(
    "exc",
    [DuplicateKeyError("dup"), _s3_error(403), _s3_error(404), NotFoundError(404, "index_not_found"), ValueError("x")],
)
def test_failures_of_the_request_itself_are_not_outages(exc: Exception) -> None:
    assert unavailable_dependency(exc) is None


def test_an_outage_answers_503_problem_with_retry_after_and_a_bug_500() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/down")
    async def down() -> None:
        raise ServerSelectionTimeoutError("no servers")

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a bug")

    @app.get("/wrapped")
    async def wrapped() -> None:
        try:
            raise ServerSelectionTimeoutError("no servers")
        except ServerSelectionTimeoutError as exc:
            raise RuntimeError("store unavailable") from exc

    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/down")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"].startswith("MongoDB is unavailable right now")
    assert client.get("/bug").status_code == 500
    # An outage behind the app's own error (a store wrapping the client's) is an outage too.
    assert client.get("/wrapped").status_code == 503


async def _fails_with(exc: Exception) -> None:
    raise exc


def test_a_command_meeting_an_outage_says_so_in_one_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_command("reprocess", _fails_with(ServerSelectionTimeoutError("localhost:1: connection refused")))
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert json.loads(err[0]) == {
        "event": "reprocess_failed",
        "error": "MongoDB is unavailable: localhost:1: connection refused",
    }


def test_a_command_finds_the_outage_behind_a_stores_own_error(capsys: pytest.CaptureFixture[str]) -> None:
    async def wrapped() -> None:
        try:
            raise KafkaConnectionError("Unable to bootstrap")
        except KafkaConnectionError as exc:
            raise RuntimeError("store unavailable") from exc

    with pytest.raises(SystemExit) as exited:
        run_command("redo", wrapped())
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().err)["error"].startswith("Kafka is unavailable")


def test_a_command_finds_the_outage_a_clean_up_failed_after(capsys: pytest.CaptureFixture[str]) -> None:
    async def cleanup_fails() -> None:
        try:
            raise ServerSelectionTimeoutError("localhost:1: connection refused")
        finally:
            raise RuntimeError("close() failed too")

    with pytest.raises(SystemExit):
        run_command("redo", cleanup_fails())
    assert json.loads(capsys.readouterr().err)["error"].startswith("MongoDB is unavailable")


def test_a_commands_own_refusal_ends_it_the_same_way_with_its_message(capsys: pytest.CaptureFixture[str]) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(SystemExit) as exited:
        run_command("dlq", _fails_with(Refused("no topic 'x.dlq' on the cluster")), refusals=(Refused,))
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().err) == {"event": "dlq_failed", "error": "no topic 'x.dlq' on the cluster"}
    # Not a refusal of this command: a bug, with its traceback.
    with pytest.raises(Refused):
        run_command("topics", _fails_with(Refused("elsewhere")))


def test_a_command_survives_an_exception_that_names_itself_as_its_cause() -> None:
    looped = ValueError("bug")
    looped.__cause__ = looped
    with pytest.raises(ValueError, match="bug"):
        run_command("redo", _fails_with(looped))


def test_a_command_keeps_the_traceback_of_a_bug_and_returns_what_it_computed() -> None:
    with pytest.raises(ZeroDivisionError):
        run_command("reprocess", _fails_with(ZeroDivisionError("bug")))

    async def answer() -> int:
        return 42

    assert run_command("reprocess", answer()) == 42
