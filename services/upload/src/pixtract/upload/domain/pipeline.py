"""Where an image is in the pipeline, computed from the facts stored about it.

Results arrive in any order and more than once, so nothing here is a transition: the
consumers store facts (a stage is done, a part is indexed) with idempotent updates, and
`pipeline_status` derives the state from all facts at once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pixtract.events.v1 import images_pb2


class ImageState(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Stage(StrEnum):
    TAGGING = "tagging"
    OCR = "ocr"
    SEARCH = "search"


class StageStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class IndexedPart(StrEnum):
    """A part of the image's search document that the search service reported indexed."""

    UPLOAD = "upload"
    TAGGING = "tagging"
    OCR = "ocr"


INDEXED_PART_FROM_EVENT: dict[int, IndexedPart] = {
    images_pb2.INDEXED_PART_UPLOAD: IndexedPart.UPLOAD,
    images_pb2.INDEXED_PART_TAGGING: IndexedPart.TAGGING,
    images_pb2.INDEXED_PART_OCR: IndexedPart.OCR,
}

# Ready: the results are stored here AND searchable.
READY_PARTS = frozenset({IndexedPart.TAGGING, IndexedPart.OCR})
# The search stage is done once every part of the document is indexed.
SEARCH_PARTS = frozenset({IndexedPart.UPLOAD, IndexedPart.TAGGING, IndexedPart.OCR})
RESULT_STAGES = (Stage.TAGGING, Stage.OCR)


@dataclass(frozen=True)
class Failure:
    stage: Stage
    reason: str


@dataclass(frozen=True)
class PipelineStatus:
    state: ImageState
    stages: dict[Stage, StageStatus]


def pipeline_status(stages: Mapping[Stage, StageStatus], indexed: Collection[IndexedPart]) -> PipelineStatus:
    """The state and stage statuses that the stored facts amount to."""
    parts = frozenset(indexed)
    search = stages.get(Stage.SEARCH, StageStatus.PENDING)
    search = StageStatus.DONE if parts >= SEARCH_PARTS else search
    status = {
        Stage.TAGGING: stages.get(Stage.TAGGING, StageStatus.PENDING),
        Stage.OCR: stages.get(Stage.OCR, StageStatus.PENDING),
        Stage.SEARCH: search,
    }
    if StageStatus.FAILED in status.values():
        return PipelineStatus(ImageState.FAILED, status)
    results_done = all(status[stage] is StageStatus.DONE for stage in RESULT_STAGES)
    if results_done and parts >= READY_PARTS:
        return PipelineStatus(ImageState.READY, status)
    return PipelineStatus(ImageState.PROCESSING, status)


def first_pending_stage(status: PipelineStatus) -> Stage | None:
    """The stage an image is waiting for: tagging and OCR first, then search."""
    for stage in (*RESULT_STAGES, Stage.SEARCH):
        if status.stages[stage] is StageStatus.PENDING:
            return stage
    return None
