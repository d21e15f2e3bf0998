from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pixtract.search.adapters.opensearch import ImageIndex


def image_index(request: Request) -> ImageIndex:
    index: ImageIndex = request.app.state.image_index
    return index


ImageIndexDep = Annotated[ImageIndex, Depends(image_index)]
