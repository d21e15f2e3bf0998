"""Re-emits work for images stuck in `processing` (see domain/reconcile.py for the policy)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from pixtract.common.logging import get_logger
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.upload.domain.outbox import OutboxEntry, outbox_entry
from pixtract.upload.domain.pipeline import Failure
from pixtract.upload.domain.reconcile import GiveUp, Reemit, reconcile_decision
from pixtract.upload.domain.records import (
    ImageDocument,
    computed_pipeline_status,
    image_uploaded_event,
    now_millis,
)

BATCH = 200

log = get_logger(__name__)


class ReemitStore(Protocol):
    async def processing_emitted_before(self, before: datetime, limit: int) -> list[ImageDocument]: ...
    async def append_reemission(
        self, image_id: str, *, previous_attempt: int, attempt: int, entry: OutboxEntry, emitted_at: datetime
    ) -> bool: ...
    async def mark_failed(self, image_id: str, failure: Failure) -> ImageDocument | None: ...


class Reconciler:
    def __init__(
        self,
        store: ReemitStore,
        *,
        reemit_after: timedelta,
        max_attempts: int,
        on_reemitted: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = now_millis,
    ) -> None:
        self._store = store
        self._reemit_after = reemit_after
        self._max_attempts = max_attempts
        self._on_reemitted = on_reemitted
        self._clock = clock

    async def run_once(self) -> int:
        """One pass over stuck images; returns how many were re-emitted or given up on."""
        now = self._clock()
        acted = 0
        for document in await self._store.processing_emitted_before(now - self._reemit_after, BATCH):
            attempt = document.get("attempt", 1)
            decision = reconcile_decision(
                computed_pipeline_status(document),
                attempt=attempt,
                emitted_at=document["emitted_at"],
                now=now,
                reemit_after=self._reemit_after,
                max_attempts=self._max_attempts,
            )
            if isinstance(decision, Reemit):
                event = image_uploaded_event(document, attempt=decision.attempt)
                entry = outbox_entry(IMAGES_UPLOADED, event, key=document["_id"])
                if await self._store.append_reemission(
                    document["_id"], previous_attempt=attempt, attempt=decision.attempt, entry=entry, emitted_at=now
                ):
                    log.info("re-emitting stuck image", image_id=document["_id"], attempt=decision.attempt)
                    acted += 1
            elif isinstance(decision, GiveUp):
                log.warning("giving up on stuck image", image_id=document["_id"], stage=decision.failure.stage.value)
                await self._store.mark_failed(document["_id"], decision.failure)
                acted += 1
        if acted:
            self._on_reemitted()
        return acted
