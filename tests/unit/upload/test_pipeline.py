"""The pipeline state, computed from stored facts; and what the reconciler does about stuck images."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from pixtract.upload.domain.pipeline import (
    Failure,
    ImageState,
    IndexedPart,
    PipelineStatus,
    Stage,
    StageStatus,
    first_pending_stage,
    pipeline_status,
)
from pixtract.upload.domain.reconcile import GiveUp, Reemit, reconcile_decision

DONE, PENDING, FAILED = StageStatus.DONE, StageStatus.PENDING, StageStatus.FAILED
UPLOAD, TAGGING, OCR = IndexedPart.UPLOAD, IndexedPart.TAGGING, IndexedPart.OCR


def _status(tagging: StageStatus, ocr: StageStatus, *indexed: IndexedPart) -> PipelineStatus:
    return pipeline_status({Stage.TAGGING: tagging, Stage.OCR: ocr}, set(indexed))


def test_a_new_image_is_processing_with_every_stage_pending() -> None:
    status = pipeline_status({}, set())
    assert status == PipelineStatus(
        ImageState.PROCESSING, {Stage.TAGGING: PENDING, Stage.OCR: PENDING, Stage.SEARCH: PENDING}
    )


@pytest.mark.parametrize(
    ("status", "state", "search"),
    [
        (_status(DONE, PENDING, TAGGING, OCR), ImageState.PROCESSING, PENDING),
        (_status(DONE, DONE), ImageState.PROCESSING, PENDING),
        (_status(DONE, DONE, TAGGING), ImageState.PROCESSING, PENDING),
        (_status(DONE, DONE, UPLOAD, OCR), ImageState.PROCESSING, PENDING),
        # Ready needs the results stored and their parts searchable; the upload part is not required.
        (_status(DONE, DONE, TAGGING, OCR), ImageState.READY, PENDING),
        (_status(DONE, DONE, UPLOAD, TAGGING, OCR), ImageState.READY, DONE),
        # Indexed parts whose results are not stored here yet: searchable, but not ready.
        (_status(PENDING, PENDING, UPLOAD, TAGGING, OCR), ImageState.PROCESSING, DONE),
        (_status(FAILED, DONE, TAGGING, OCR), ImageState.FAILED, PENDING),
    ],
)
def test_state_from_facts(status: PipelineStatus, state: ImageState, search: StageStatus) -> None:
    assert status.state is state
    assert status.stages[Stage.SEARCH] is search


def test_a_failed_search_stage_is_cleared_once_everything_is_indexed() -> None:
    stages = {Stage.TAGGING: DONE, Stage.OCR: DONE, Stage.SEARCH: FAILED}
    assert pipeline_status(stages, {TAGGING}).state is ImageState.FAILED
    assert pipeline_status(stages, {UPLOAD, TAGGING, OCR}) == PipelineStatus(
        ImageState.READY, {Stage.TAGGING: DONE, Stage.OCR: DONE, Stage.SEARCH: DONE}
    )


def test_any_order_and_any_repetition_of_events_ends_ready() -> None:
    """Facts only accumulate ($set done, $addToSet part), so the final state cannot depend on order."""
    events = ["tagged", "text", "indexed-upload", "indexed-tagging", "indexed-ocr", "tagged", "indexed-ocr"]
    finals = set()
    for order in permutations(events):
        stages: dict[Stage, StageStatus] = {}
        indexed: set[IndexedPart] = set()
        for event in order:
            if event == "tagged":
                stages[Stage.TAGGING] = DONE
            elif event == "text":
                stages[Stage.OCR] = DONE
            else:
                indexed.add(IndexedPart(event.removeprefix("indexed-")))
        finals.add(pipeline_status(stages, indexed).state)
    assert finals == {ImageState.READY}


def test_the_pending_stage_is_tagging_or_ocr_before_search() -> None:
    assert first_pending_stage(_status(PENDING, PENDING)) is Stage.TAGGING
    assert first_pending_stage(_status(DONE, PENDING)) is Stage.OCR
    assert first_pending_stage(_status(DONE, DONE, TAGGING)) is Stage.SEARCH
    assert first_pending_stage(_status(DONE, DONE, UPLOAD, TAGGING, OCR)) is None


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
AFTER = timedelta(seconds=600)


def _decide(status: PipelineStatus, *, attempt: int = 1, age_s: int = 601, max_attempts: int = 5) -> object:
    return reconcile_decision(
        status,
        attempt=attempt,
        emitted_at=NOW - timedelta(seconds=age_s),
        now=NOW,
        reemit_after=AFTER,
        max_attempts=max_attempts,
    )


def test_a_stuck_image_is_reemitted_with_the_next_attempt() -> None:
    assert _decide(_status(DONE, PENDING)) == Reemit(attempt=2)
    assert _decide(_status(DONE, PENDING), attempt=4) == Reemit(attempt=5)


def test_recent_ready_or_failed_images_are_left_alone() -> None:
    assert _decide(_status(PENDING, PENDING), age_s=599) is None
    assert _decide(_status(DONE, DONE, TAGGING, OCR)) is None
    assert _decide(_status(FAILED, DONE)) is None


def test_after_the_last_attempt_the_pending_stage_fails() -> None:
    decision = _decide(_status(DONE, PENDING), attempt=5)
    assert isinstance(decision, GiveUp)
    assert decision.failure == Failure(Stage.OCR, "no ocr result after 5 attempts (about 3000 s)")
    search_stuck = _decide(_status(DONE, DONE, OCR), attempt=5)
    assert isinstance(search_stuck, GiveUp)
    assert search_stuck.failure.stage is Stage.SEARCH
