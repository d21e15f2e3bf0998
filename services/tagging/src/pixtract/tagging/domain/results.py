"""What the tagging service keeps of each image to redo, re-announce and link its result.

Tagging does not own image records, but it must be able to (1) re-announce a result when
OCR later says the image is a receipt, (2) link near-duplicates among a user's images, and
(3) re-emit work for images tagged by an older model. So it keeps, per image, the last
ImageUploaded it handled and the last ImageTagged it announced, with the facts they were
derived from. A stored result is `pending` until it is known to be published: a crash
between the two is repaired by the next event about that image.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pixtract.tagging.domain.categories import CategoryStore
from pixtract.tagging.domain.perceptual_hash import hamming_distance


@dataclass(frozen=True)
class StoredImage:
    image_id: str
    owner_id: str
    uploaded_at: datetime | None
    tagged_at: datetime | None
    categories: tuple[str, ...]
    phash: str
    duplicates_of: tuple[str, ...]
    # From images.text_extracted; empty until OCR reports.
    document_type: str
    # The document type the stored categories were computed with: when it differs from
    # `document_type`, OCR reported after the result and the categories are redone.
    categorised_with: str
    model_version: str
    upload: bytes
    result: bytes
    pending: bool


@dataclass(frozen=True)
class HashedImage:
    image_id: str
    phash: str
    uploaded_at: datetime


def near_duplicates(
    phash: str, candidates: Iterable[HashedImage], *, max_distance: int
) -> list[tuple[HashedImage, int]]:
    """Candidates within `max_distance` bits of `phash`, nearest first (then oldest)."""
    if not phash:
        return []
    found = []
    for candidate in candidates:
        if not candidate.phash or len(candidate.phash) != len(phash):
            continue
        distance = hamming_distance(phash, candidate.phash)
        if distance <= max_distance:
            found.append((candidate, distance))
    return sorted(found, key=lambda item: (item[1], item[0].uploaded_at, item[0].image_id))


def is_earlier(first: HashedImage | StoredImage, second_uploaded_at: datetime, second_id: str) -> bool:
    """Upload order, ties broken by id: of two near-duplicates the earlier is the original."""
    uploaded_at = first.uploaded_at
    if uploaded_at is None:
        return False
    return (uploaded_at, first.image_id) < (second_uploaded_at, second_id)


class TaggingStore(CategoryStore, Protocol):
    async def get(self, image_id: str) -> StoredImage | None:
        """The live image (None when unknown, deleted, or its owner is)."""
        ...

    async def record_text(self, image_id: str, owner_id: str, document_type: str) -> StoredImage | None:
        """Store what OCR said; None when the image or its owner is deleted."""
        ...

    async def replace_result(
        self,
        image_id: str,
        *,
        expected_tagged_at: datetime,
        tagged_at: datetime,
        categories: tuple[str, ...],
        specific: tuple[tuple[str, str], ...],
        duplicates_of: tuple[str, ...],
        categorised_with: str,
        result: bytes,
    ) -> bool:
        """Replace the stored result if it is still the one tagged at `expected_tagged_at`."""
        ...

    async def mark_published(self, image_id: str, tagged_at: datetime) -> None: ...

    async def hashed_images(self, owner_id: str) -> list[HashedImage]:
        """Every live image of the owner with a perceptual hash."""
        ...

    async def linked_to(self, owner_id: str, image_id: str) -> list[str]:
        """Images of the owner that name `image_id` in their duplicates_of."""
        ...

    def outdated(self, model_version: str) -> AsyncIterator[StoredImage]:
        """Live images tagged by another model version than `model_version`, with their upload."""
        ...
