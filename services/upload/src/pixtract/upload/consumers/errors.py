"""Which failures of a handler are worth retrying forever: the ones of an unreachable dependency."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pixtract.common.dependencies import unavailable_dependency
from pixtract.common.kafka import TransientError


@contextmanager
def unreachable_dependencies_are_transient() -> Iterator[None]:
    """Names the outage in the retry log line (the consumer runner would retry it anyway)."""
    try:
        yield
    except Exception as exc:
        if dependency := unavailable_dependency(exc):
            raise TransientError(f"{dependency} unavailable: {exc}") from exc
        raise
