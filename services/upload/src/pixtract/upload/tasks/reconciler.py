"""Re-emits work for images stuck in `processing` (see domain/reconcile.py for the policy).

Only once the pipeline has drained: while any of its consumers still has events queued, an
image in `processing` is waiting its turn, not lost. Re-emitting it then would only add work
to the queue it waits in: under a big enough backlog (a whole library imported at once, or
a slow machine) every pass re-emitted everything still queued, the queue grew faster than
it drained, and images were marked failed for waiting. The fault suite saw that collapse.
"""

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


class PipelineBacklog(Protocol):
    async def queued(self) -> int:
        """Events the pipeline's consumers have not finished yet (0: drained)."""
        ...


class Reconciler:
    def __init__(
        self,
        store: ReemitStore,
        *,
        backlog: PipelineBacklog,
        reemit_after: timedelta,
        max_attempts: int,
        on_reemitted: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = now_millis,
    ) -> None:
        self._store = store
        self._backlog = backlog
        self._reemit_after = reemit_after
        self._max_attempts = max_attempts
        self._on_reemitted = on_reemitted
        self._clock = clock

    async def run_once(self) -> int:
        """One pass over stuck images; returns how many were re-emitted or given up on."""
        now = self._clock()
        stuck = await self._store.processing_emitted_before(now - self._reemit_after, BATCH)
        if not stuck:
            return 0
        if queued := await self._backlog.queued():
            # Not an attempt: the image keeps its attempts until the queue has drained.
            log.info("pipeline busy; re-emission waits", queued=queued, waiting=len(stuck))
            return 0
        acted = 0
        for document in stuck:
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
