from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pixtract.tagging.domain.categories import CategoryStore


def category_store(request: Request) -> CategoryStore:
    store: CategoryStore = request.app.state.category_store
    return store


CategoryStoreDep = Annotated[CategoryStore, Depends(category_store)]
