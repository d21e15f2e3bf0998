"""/api/v1/categories: the caller's categories, and renaming one for themselves."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from pixtract.common.auth import ImagesReader, ImagesWriter
from pixtract.common.errors import Problem
from pixtract.tagging.api.deps import CategoryStoreDep
from pixtract.tagging.domain.categories import Category, CategoryStore, summarise_categories

router = APIRouter(prefix="/api/v1/categories", tags=["categories"])


def _printable(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValueError("must not contain control or unassigned characters")
    return name


CategoryName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_printable)
]


class CategoryOut(BaseModel):
    id: str
    name: str
    suggested_name: str
    count: int
    cover_image_id: str

    @classmethod
    def of(cls, category: Category) -> CategoryOut:
        return cls(
            id=category.id,
            name=category.name,
            suggested_name=category.suggested_name,
            count=category.count,
            cover_image_id=category.cover_image_id,
        )


class CategoryList(BaseModel):
    items: list[CategoryOut]


class CategoryRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CategoryName


async def _categories_of(store: CategoryStore, owner_id: str) -> list[Category]:
    return summarise_categories(await store.count_categories(owner_id), await store.renames(owner_id))


@router.get("")
async def list_categories(principal: ImagesReader, store: CategoryStoreDep) -> CategoryList:
    """List the caller's categories, largest first, with a cover image each."""
    categories = await _categories_of(store, principal.user_id)
    return CategoryList(items=[CategoryOut.of(c) for c in categories])


@router.patch("/{category_id}")
async def rename_category(
    category_id: str, body: CategoryRename, principal: ImagesWriter, store: CategoryStoreDep
) -> CategoryOut:
    """Rename one of the caller's categories for the caller only."""
    categories = await _categories_of(store, principal.user_id)
    category = next((c for c in categories if c.id == category_id), None)
    if category is None:
        raise Problem(404, "You have no category with this id.")
    # Renaming back to the suggested name undoes the rename: nothing is left stored.
    await store.rename(principal.user_id, category.id, None if body.name == category.suggested_name else body.name)
    return CategoryOut.of(
        Category(category.id, body.name, category.suggested_name, category.count, category.cover_image_id)
    )
