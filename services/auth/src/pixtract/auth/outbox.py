"""The users.deleted outbox relay.

Deleting an account is one document write that retires it and records its pending
event. This relay finds such records, removes the user's credentials, publishes the
event and only then drops the record, so a crash or a Kafka outage at any point leaves
work that the next pass redoes (consumers see at-least-once delivery, with a stable event id).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from pixtract.auth.domain.api_keys import ApiKeyStore
from pixtract.auth.domain.sessions import RefreshFamilyStore
from pixtract.auth.domain.users import PendingDeletion, UserStore
from pixtract.common.logging import get_logger
from pixtract.events.topics import USERS_DELETED, Topic
from pixtract.events.v1 import users_pb2

BATCH_SIZE = 100
MAX_BACKOFF_S = 60.0

log = get_logger(__name__)


class UserDeletedPublisher(Protocol):
    async def publish(
        self,
        topic: Topic[users_pb2.UserDeleted],
        message: users_pb2.UserDeleted,
        *,
        key: str,
        event_id: str | None = None,
    ) -> None: ...


def user_deleted_event(deletion: PendingDeletion) -> users_pb2.UserDeleted:
    event = users_pb2.UserDeleted(user_id=deletion.user_id)
    event.deleted_at.FromDatetime(deletion.deleted_at)
    return event


class UserDeletionRelay:
    def __init__(
        self,
        users: UserStore,
        sessions: RefreshFamilyStore,
        api_keys: ApiKeyStore,
        publisher: UserDeletedPublisher,
        interval_s: float,
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._api_keys = api_keys
        self._publisher = publisher
        self._interval_s = interval_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def revoke_credentials(self, user_id: str) -> None:
        await self._sessions.delete_for_user(user_id)
        await self._api_keys.delete_for_user(user_id)

    async def relay_pending(self) -> int:
        """One pass over pending deletions; returns how many were published. Raises if one fails."""
        done = 0
        for deletion in await self._users.pending_deletions(BATCH_SIZE):
            await self.revoke_credentials(deletion.user_id)
            await self._publisher.publish(
                USERS_DELETED, user_deleted_event(deletion), key=deletion.user_id, event_id=deletion.event_id
            )
            await self._users.remove(deletion.user_id)
            log.info("user deletion published", user_id=deletion.user_id, event_id=deletion.event_id)
            done += 1
        return done

    def wake(self) -> None:
        """Run a pass now rather than at the next interval (a deletion was just recorded)."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox:users.deleted")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wakeup.clear()
            try:
                done = await self.relay_pending()
            except Exception as exc:
                failures += 1
                delay = min(MAX_BACKOFF_S, self._interval_s * 2 ** (failures - 1))
                log.warning("outbox relay failed; will retry", error=repr(exc), delay=delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if done == BATCH_SIZE:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval_s)
