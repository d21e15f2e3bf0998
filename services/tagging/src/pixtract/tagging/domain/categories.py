"""Categories: which ones an image falls into, and a user's categories with their own names.

An image's categories are suggested names ("Animals", "Food"); a user may rename one for
themselves. A category is addressed by a stable slug of its suggested name, so a rename
never changes its id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pixtract.tagging.domain.labels import Label
from pixtract.tagging.domain.places import Location

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def categorise(labels: Sequence[Label], faces: int, location: Location | None) -> list[str]:
    """Suggested category names for one image.

    The seam for the label hierarchy, people and places rules of a later issue: with no
    labels yet, no image falls into a category.
    """
    return []


def category_id(name: str) -> str:
    """A stable, URL-safe id for a suggested category name ("Food & Drink" -> "food-drink")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")
    # A name with no Latin letters or digits still needs an id that is stable and distinct.
    return slug or "c-" + hashlib.sha256(name.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ImageCategories:
    """What the service keeps of one image: just enough to list a user's categories."""

    image_id: str
    owner_id: str
    categories: tuple[str, ...]
    uploaded_at: datetime
    tagged_at: datetime


@dataclass(frozen=True)
class CategoryCount:
    """One suggested name's images among a user's: how many, and the newest one."""

    name: str
    count: int
    cover_image_id: str
    cover_uploaded_at: datetime


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    suggested_name: str
    count: int
    cover_image_id: str


def summarise_categories(counts: Iterable[CategoryCount], renames: Mapping[str, str]) -> list[Category]:
    """A user's categories, largest first, with their renames applied.

    Suggested names that share a slug are one category: counts add up and the newest
    image of either is the cover.
    """
    merged: dict[str, CategoryCount] = {}
    for row in counts:
        key = category_id(row.name)
        seen = merged.get(key)
        if seen is None:
            merged[key] = row
            continue
        newest = row if row.cover_uploaded_at > seen.cover_uploaded_at else seen
        merged[key] = CategoryCount(
            name=min(seen.name, row.name),
            count=seen.count + row.count,
            cover_image_id=newest.cover_image_id,
            cover_uploaded_at=newest.cover_uploaded_at,
        )
    categories = [
        Category(
            id=key,
            name=renames.get(key, row.name),
            suggested_name=row.name,
            count=row.count,
            cover_image_id=row.cover_image_id,
        )
        for key, row in merged.items()
    ]
    return sorted(categories, key=lambda c: (-c.count, c.name.casefold(), c.id))


class StoreUnavailable(Exception):
    """The category store cannot be reached; the same call may work later."""


class CategoryStore(Protocol):
    async def save_image(self, image: ImageCategories) -> bool:
        """Store an image's categories; False when the image or its owner is already deleted,
        or a newer result is stored (the caller then has nothing to announce)."""
        ...

    async def forget_image(self, image_id: str, owner_id: str) -> None: ...

    async def forget_user(self, owner_id: str) -> None:
        """Remove every image and rename of the user."""
        ...

    async def count_categories(self, owner_id: str) -> list[CategoryCount]: ...

    async def renames(self, owner_id: str) -> dict[str, str]:
        """Category id -> the user's own name for it."""
        ...

    async def rename(self, owner_id: str, category: str, name: str | None) -> None:
        """Give a category the user's own name; None goes back to the suggested name."""
        ...
