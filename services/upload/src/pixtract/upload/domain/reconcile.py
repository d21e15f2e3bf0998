"""What to do about an image still processing long after its work was emitted.

Kafka keeps what it accepted, so a stuck image usually means a result was dead-lettered or
lost before it reached a topic. Re-emitting ImageUploaded (with the next attempt number) is
safe because every consumer is idempotent; after `max_attempts` emissions the image is marked
failed at the stage it waits for, which a late result still clears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pixtract.upload.domain.pipeline import Failure, ImageState, PipelineStatus, first_pending_stage


@dataclass(frozen=True)
class Reemit:
    attempt: int


@dataclass(frozen=True)
class GiveUp:
    failure: Failure


def reconcile_decision(
    status: PipelineStatus,
    *,
    attempt: int,
    emitted_at: datetime,
    now: datetime,
    reemit_after: timedelta,
    max_attempts: int,
) -> Reemit | GiveUp | None:
    if status.state is not ImageState.PROCESSING or now - emitted_at < reemit_after:
        return None
    stage = first_pending_stage(status)
    if stage is None:
        return None
    if attempt >= max_attempts:
        waited = int(reemit_after.total_seconds()) * attempt
        return GiveUp(Failure(stage, f"no {stage.value} result after {attempt} attempts (about {waited} s)"))
    return Reemit(attempt + 1)
