"""An in-memory tagging store with the Mongo store's semantics (tombstones, newest result wins)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime

from pixtract.tagging.domain.categories import CategoryCount, ImageCategories
from pixtract.tagging.domain.results import HashedImage, StoredImage


class InMemoryCategoryStore:
    def __init__(self) -> None:
        self.images: dict[str, ImageCategories] = {}
        self.deleted_images: set[str] = set()
        self.deleted_users: set[str] = set()
        self.names: dict[tuple[str, str], str] = {}
        # What OCR said before or after tagging, and which results are not confirmed published.
        self.document_types: dict[str, str] = {}
        self.text_owners: dict[str, str] = {}
        self.pending: set[str] = set()

    async def save_image(self, image: ImageCategories) -> bool:
        if image.owner_id in self.deleted_users or image.image_id in self.deleted_images:
            return False
        stored = self.images.get(image.image_id)
        if stored is not None and stored.tagged_at > image.tagged_at:
            return False
        self.images[image.image_id] = image
        if image.result:
            self.pending.add(image.image_id)
        return True

    async def forget_image(self, image_id: str, owner_id: str) -> None:
        self.images.pop(image_id, None)
        self.deleted_images.add(image_id)

    async def forget_user(self, owner_id: str) -> None:
        self.deleted_users.add(owner_id)
        self.images = {k: v for k, v in self.images.items() if v.owner_id != owner_id}
        self.names = {k: v for k, v in self.names.items() if k[0] != owner_id}

    async def count_categories(self, owner_id: str) -> list[CategoryCount]:
        newest_first = sorted(
            (i for i in self.images.values() if i.owner_id == owner_id),
            key=lambda i: (i.uploaded_at, i.image_id),
            reverse=True,
        )
        rows: dict[str, CategoryCount] = {}
        for image in newest_first:
            for name in image.categories:
                row = rows.get(name) or CategoryCount(name, 0, image.image_id, image.uploaded_at, {})
                specific = dict(row.specific)
                for category, specific_name in image.specific:
                    if category == name:
                        specific[specific_name] = specific.get(specific_name, 0) + 1
                rows[name] = dataclasses.replace(row, count=row.count + 1, specific=specific)
        return list(rows.values())

    async def renames(self, owner_id: str) -> dict[str, str]:
        return {category: name for (owner, category), name in self.names.items() if owner == owner_id}

    async def rename(self, owner_id: str, category: str, name: str | None) -> None:
        if name is None:
            self.names.pop((owner_id, category), None)
        else:
            self.names[(owner_id, category)] = name

    def add(
        self,
        image_id: str,
        owner_id: str,
        categories: tuple[str, ...],
        uploaded_at: datetime,
        specific: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.images[image_id] = ImageCategories(
            image_id, owner_id, categories, uploaded_at, uploaded_at, specific=specific
        )

    # ----- what the consumers need beyond categories --------------------------------------

    def _stored(self, image_id: str) -> StoredImage | None:
        if image_id in self.deleted_images:
            return None
        image = self.images.get(image_id)
        if image is None:
            owner = self.text_owners.get(image_id)
            if owner is None or owner in self.deleted_users:
                return None
            return StoredImage(
                image_id, owner, None, None, (), "", (), self.document_types[image_id], "", "", b"", b"", False
            )
        if image.owner_id in self.deleted_users:
            return None
        return StoredImage(
            image_id=image.image_id,
            owner_id=image.owner_id,
            uploaded_at=image.uploaded_at,
            tagged_at=image.tagged_at,
            categories=image.categories,
            phash=image.phash,
            duplicates_of=image.duplicates_of,
            document_type=self.document_types.get(image_id, ""),
            categorised_with=image.categorised_with,
            model_version=image.model_version,
            upload=image.upload,
            result=image.result,
            pending=image_id in self.pending,
        )

    async def get(self, image_id: str) -> StoredImage | None:
        return self._stored(image_id)

    async def record_text(self, image_id: str, owner_id: str, document_type: str) -> StoredImage | None:
        if owner_id in self.deleted_users or image_id in self.deleted_images:
            return None
        image = self.images.get(image_id)
        if image is not None and image.owner_id != owner_id:
            return None
        self.document_types[image_id] = document_type
        self.text_owners.setdefault(image_id, owner_id)
        return self._stored(image_id)

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
        image = self.images.get(image_id)
        if image is None or image_id in self.deleted_images or image.tagged_at != expected_tagged_at:
            return False
        self.images[image_id] = dataclasses.replace(
            image,
            tagged_at=tagged_at,
            categories=categories,
            specific=specific,
            duplicates_of=duplicates_of,
            categorised_with=categorised_with,
            result=result,
        )
        self.pending.add(image_id)
        return True

    async def mark_published(self, image_id: str, tagged_at: datetime) -> None:
        image = self.images.get(image_id)
        if image is not None and image.tagged_at == tagged_at:
            self.pending.discard(image_id)

    async def hashed_images(self, owner_id: str) -> list[HashedImage]:
        return [
            HashedImage(i.image_id, i.phash, i.uploaded_at)
            for i in self.images.values()
            if i.owner_id == owner_id and i.phash and owner_id not in self.deleted_users
        ]

    async def linked_to(self, owner_id: str, image_id: str) -> list[str]:
        return [i.image_id for i in self.images.values() if i.owner_id == owner_id and image_id in i.duplicates_of]

    async def outdated(self, model_version: str) -> AsyncIterator[StoredImage]:
        for image_id in sorted(self.images):
            stored = self._stored(image_id)
            if stored is not None and stored.upload and stored.model_version != model_version:
                yield stored
