"""What the stack holds for one user, read straight from S3 and MongoDB (db `media`).

Only possible when this test session started the stack (`stack.handle`). Against a foreign
deployment a test makes its HTTP checks first and is then skipped, with the reason, where it
would look into storage (`inspect_storage`).
"""

from __future__ import annotations

from typing import Any

import pymongo
import pytest

from pixtract.localstack import Stack

FOREIGN_STACK = "S3 and MongoDB are only inspected on a stack this test run started (not PIXTRACT_E2E_BASE_URL)"


class StoredState:
    def __init__(self, handle: Stack) -> None:
        self._handle = handle
        self._mongo: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            handle.endpoints.mongo_url, serverSelectionTimeoutMS=5000
        )

    def close(self) -> None:
        self._mongo.close()

    def images(self, owner_id: str) -> list[dict[str, Any]]:
        """The owner's image records, deleted ones included."""
        return list(self._mongo["media"]["images"].find({"owner_id": owner_id}))

    def uploads(self, owner_id: str) -> list[dict[str, Any]]:
        """The owner's resumable uploads."""
        return list(self._mongo["media"]["uploads"].find({"owner_id": owner_id}))

    def keys(self, owner_id: str) -> list[str]:
        """Every object of the owner: originals, thumbnails, resumable-upload segments."""
        return sorted(
            key
            for prefix in (f"originals/{owner_id}/", f"thumbs/{owner_id}/", f"uploads/{owner_id}/")
            for key in self._handle.s3_keys(prefix)
        )

    def expect_nothing(self, owner_id: str) -> None:
        assert self.images(owner_id) == []
        assert self.keys(owner_id) == []

    def expect_images(self, owner_id: str, image_ids: set[str]) -> None:
        """Exactly these live images, each with its original and two thumbnails, and nothing else."""
        records = self.images(owner_id)
        assert {record["_id"] for record in records} == image_ids
        assert all(record["deleted"] is False for record in records)
        assert self.keys(owner_id) == sorted(
            key
            for image_id in image_ids
            for key in (
                f"originals/{owner_id}/{image_id}",
                f"thumbs/{owner_id}/{image_id}/large.webp",
                f"thumbs/{owner_id}/{image_id}/small.webp",
            )
        )


def inspect_storage(stored: StoredState | None) -> StoredState:
    """`stored`, or a skip (after the HTTP checks that already passed) on a foreign stack."""
    if stored is None:
        pytest.skip(FOREIGN_STACK)
    return stored
