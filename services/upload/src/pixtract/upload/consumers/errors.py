"""Which failures of a handler are worth retrying forever: the ones of an unreachable dependency."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from pymongo.errors import ConnectionFailure

from pixtract.common.kafka import TransientError


@contextmanager
def unreachable_dependencies_are_transient() -> Iterator[None]:
    try:
        yield
    except ConnectionFailure as exc:
        raise TransientError(f"MongoDB unavailable: {exc}") from exc
    except BotoCoreError as exc:
        raise TransientError(f"S3 unavailable: {exc}") from exc
    except ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if status >= 500 or status == 429:
            raise TransientError(f"S3 unavailable: {exc}") from exc
        raise
