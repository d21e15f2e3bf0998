"""What a credential may do. Access tokens from a login carry every scope; an API key may carry fewer."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    IMAGES_READ = "images:read"
    IMAGES_WRITE = "images:write"


USER_SCOPES: frozenset[str] = frozenset(Scope)
