"""Categories: which ones an image falls into, and a user's categories with their own names.

An image's categories are broad names ("Animals", "Food & Drink") from its labels and their
hypernyms, its faces and what OCR found (a receipt is a receipt even though ImageNet calls
it a "menu"). A user's library may allow a more specific suggestion: when at least 90% of
the images in a category share a specific group ("Cats"), that is the suggested name. A user
may rename a category for themselves. A category is addressed by a stable slug of its broad
name, so neither a rename nor a new suggestion changes its id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pixtract.tagging.domain.labels import Label, LabelRules

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# A category is suggested under a specific name when this share of its images have it.
SPECIFIC_SHARE = 0.9
# Separates a category from a specific name in the stored pairs ("Animals\x1fCats").
SPECIFIC_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Categorisation:
    categories: tuple[str, ...] = ()
    # (category, specific name) pairs: the specific groups this image belongs to.
    specific: tuple[tuple[str, str], ...] = ()


def _terms(label: Label) -> tuple[str, ...]:
    return (label.name, *label.parents)


def categorise(labels: Sequence[Label], faces: int, document_type: str, rules: LabelRules) -> Categorisation:
    """The categories of one image, in the rules' order, and its specific groups."""
    found: dict[str, None] = {}
    specific: dict[tuple[str, str], None] = {}
    if faces > 0 and rules.people:
        found[rules.people] = None
    document = rules.documents.get(document_type)
    for label in labels:
        terms = _terms(label)
        for category, hypernyms in rules.categories.items():
            if any(term in hypernyms for term in terms):
                found.setdefault(category, None)
                for term in terms:
                    if (name := rules.specific_names.get(category, {}).get(term)) is not None:
                        specific.setdefault((category, name), None)
                        break
                break
    if document is not None:
        for replaced in rules.replaced_by_documents:
            found.pop(replaced, None)
        found[document] = None
    if not found and labels and rules.fallback:
        found[rules.fallback] = None
    ordered = [c for c in (rules.people, *rules.categories, *rules.documents.values()) if c in found]
    ordered += [c for c in found if c not in ordered]
    kept = tuple(dict.fromkeys(ordered))
    return Categorisation(kept, tuple(pair for pair in specific if pair[0] in kept))


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
    # (category, specific name) pairs, for suggested names.
    specific: tuple[tuple[str, str], ...] = ()
    # What the rest of the service needs to redo or re-announce this result.
    phash: str = ""
    duplicates_of: tuple[str, ...] = ()
    model_version: str = ""
    # The OCR document type the categories were computed with ("" before OCR reported).
    categorised_with: str = ""
    # The ImageUploaded handled and the ImageTagged announced, serialised.
    upload: bytes = b""
    result: bytes = b""


@dataclass(frozen=True)
class CategoryCount:
    """One suggested name's images among a user's: how many, and the newest one."""

    name: str
    count: int
    cover_image_id: str
    cover_uploaded_at: datetime
    # Specific name → how many of these images have it.
    specific: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    suggested_name: str
    count: int
    cover_image_id: str


def suggested_name(row: CategoryCount) -> str:
    """The most specific name that at least 90% of the category's images share."""
    best = max(row.specific.items(), key=lambda item: (item[1], item[0]), default=None)
    if best is not None and row.count > 0 and best[1] >= SPECIFIC_SHARE * row.count:
        return best[0]
    return row.name


def summarise_categories(counts: Iterable[CategoryCount], renames: Mapping[str, str]) -> list[Category]:
    """A user's categories, largest first, with their renames applied.

    Names that share a slug are one category: counts add up and the newest image of
    either is the cover.
    """
    merged: dict[str, CategoryCount] = {}
    for row in counts:
        key = category_id(row.name)
        seen = merged.get(key)
        if seen is None:
            merged[key] = row
            continue
        newest = row if row.cover_uploaded_at > seen.cover_uploaded_at else seen
        specific = dict(seen.specific)
        for name, count in row.specific.items():
            specific[name] = specific.get(name, 0) + count
        merged[key] = CategoryCount(
            name=min(seen.name, row.name),
            count=seen.count + row.count,
            cover_image_id=newest.cover_image_id,
            cover_uploaded_at=newest.cover_uploaded_at,
            specific=specific,
        )
    categories = [
        Category(
            id=key,
            name=renames.get(key, suggested_name(row)),
            suggested_name=suggested_name(row),
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
