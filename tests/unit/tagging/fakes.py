"""An in-memory category store with the Mongo store's semantics (tombstones, newest result wins)."""

from __future__ import annotations

from datetime import datetime

from pixtract.tagging.domain.categories import CategoryCount, ImageCategories


class InMemoryCategoryStore:
    def __init__(self) -> None:
        self.images: dict[str, ImageCategories] = {}
        self.deleted_images: set[str] = set()
        self.deleted_users: set[str] = set()
        self.names: dict[tuple[str, str], str] = {}

    async def save_image(self, image: ImageCategories) -> bool:
        if image.owner_id in self.deleted_users or image.image_id in self.deleted_images:
            return False
        stored = self.images.get(image.image_id)
        if stored is not None and stored.tagged_at > image.tagged_at:
            return False
        self.images[image.image_id] = image
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
                row = rows.get(name)
                if row is None:
                    rows[name] = CategoryCount(name, 1, image.image_id, image.uploaded_at)
                else:
                    rows[name] = CategoryCount(name, row.count + 1, row.cover_image_id, row.cover_uploaded_at)
        return list(rows.values())

    async def renames(self, owner_id: str) -> dict[str, str]:
        return {category: name for (owner, category), name in self.names.items() if owner == owner_id}

    async def rename(self, owner_id: str, category: str, name: str | None) -> None:
        if name is None:
            self.names.pop((owner_id, category), None)
        else:
            self.names[(owner_id, category)] = name

    def add(self, image_id: str, owner_id: str, categories: tuple[str, ...], uploaded_at: datetime) -> None:
        self.images[image_id] = ImageCategories(image_id, owner_id, categories, uploaded_at, uploaded_at)
