"""User accounts and the store that holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class User:
    id: str
    email: str
    email_key: str
    name: str | None
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class PendingDeletion:
    """The outbox entry of a deleted account: its users.deleted event, not yet published."""

    user_id: str
    event_id: str
    deleted_at: datetime


class EmailTaken(Exception):
    """Another account already uses this email."""


class UserStore(Protocol):
    async def insert(self, user: User) -> None:
        """Raises EmailTaken when the email key is in use."""
        ...

    async def get(self, user_id: str) -> User | None:
        """The live account (not one pending deletion)."""
        ...

    async def find_by_email(self, email_key: str) -> User | None: ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    async def mark_deleted(self, deletion: PendingDeletion) -> bool:
        """In one write: retire the account and record its pending event. False when no such account.
        An account already pending deletion keeps its first event (True)."""
        ...

    async def pending_deletions(self, limit: int) -> list[PendingDeletion]: ...

    async def remove(self, user_id: str) -> None:
        """Drop the retired account once its event is published."""
        ...
