"""Telling "a backing service is down" apart from every other failure.

One classification for the whole system: an HTTP handler that meets it answers 503 with
Retry-After (the same request will work later; nothing was half stored, since writes fail
before they are acknowledged), and a Kafka consumer retries the event with backoff for as
long as it takes, never dead-lettering it (the event is fine; the world is not).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError
from pymongo.errors import ConnectionFailure

# HTTP statuses of S3 and OpenSearch that mean "overloaded or down, try again".
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_KAFKA_DOWN = (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError)
T = TypeVar("T")
# Every error type of the client libraries that `unavailable_dependency` may call an outage.
CLIENT_ERRORS: tuple[type[Exception], ...] = (
    ConnectionFailure,
    ClientError,
    BotoConnectionError,
    HTTPClientError,
    TransportError,  # OpenSearch's ConnectionError is one
    *_KAFKA_DOWN,
)


def unavailable_dependency(exc: BaseException) -> str | None:
    """The backing service `exc` says cannot be reached or is overloaded, or None when `exc`
    is about the request itself (or a bug)."""
    if isinstance(exc, ConnectionFailure):  # also timeouts and failed server selection
        return "MongoDB"
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "S3" if status in RETRYABLE_STATUSES else None
    if isinstance(exc, BotoConnectionError | HTTPClientError):  # refused, closed, timed out
        return "S3"  # (not every BotoCoreError: missing credentials or bad parameters are bugs)
    if isinstance(exc, OpenSearchConnectionError):
        return "OpenSearch"
    if isinstance(exc, TransportError):
        return "OpenSearch" if exc.status_code in RETRYABLE_STATUSES else None
    if isinstance(exc, _KAFKA_DOWN):
        return "Kafka"
    return None


def outage_behind(exc: BaseException) -> tuple[str, BaseException] | None:
    """The outage named by `exc` or by an error it was raised from or while handling (stores
    wrap a client's connection error in their own; a clean-up may fail after the outage)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if (dependency := unavailable_dependency(current)) is not None:
            return dependency, current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None


def run_command(command: str, coroutine: Coroutine[Any, Any, T], *, refusals: tuple[type[Exception], ...] = ()) -> T:
    """Runs an operator command's coroutine. A backing service that is down ends it with a
    JSON line on stderr and exit status 1 (run it again later), and so does one of the
    command's own `refusals` (a topic that does not exist, ...), with its message; any other
    failure is a bug and keeps its traceback."""
    try:
        return asyncio.run(coroutine)
    except refusals as exc:
        error = str(exc)
    except Exception as exc:
        if (outage := outage_behind(exc)) is None:
            raise
        dependency, cause = outage
        error = f"{dependency} is unavailable: {cause}"
    print(json.dumps({"event": f"{command}_failed", "error": error}), file=sys.stderr)
    raise SystemExit(1)
