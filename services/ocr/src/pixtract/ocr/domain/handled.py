"""What the service remembers of the images it has read: just enough to read them again.

OCR keeps no results (the upload service stores them, search indexes them). It keeps one
small record per image, the object to read and the model version that read it, so that
`python -m pixtract.ocr reprocess` can find images read by an older pipeline without asking
another service's database. Deleted images and users are forgotten through their events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class HandledImage:
    image_id: str
    owner_id: str
    bucket: str
    key: str
    model_version: str
    # The upload's attempt counter, echoed so consumers can tell runs apart.
    attempt: int = 0


class HandledStore(Protocol):
    async def record(self, image: HandledImage) -> None: ...
    async def forget_image(self, image_id: str) -> None: ...
    async def forget_owner(self, owner_id: str) -> None: ...
    def older_than(self, model_version: str, *, limit: int | None = None) -> AsyncIterator[HandledImage]: ...
