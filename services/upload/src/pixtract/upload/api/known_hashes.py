"""Which files the caller already stored, asked by SHA-256 before any byte is sent.

An extension of API.md for bulk clients (the `pixtract` CLI): hashing locally and asking
here lets a re-run of a large upload skip everything the server already has.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from pixtract.common.auth import ImagesReader
from pixtract.upload.api.deps import Images

MAX_HASHES = 1000

router = APIRouter(prefix="/api/v1/images", tags=["images"])

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class KnownHashesIn(BaseModel):
    sha256: Annotated[list[Sha256Hex], Field(min_length=1, max_length=MAX_HASHES)]


class KnownHashOut(BaseModel):
    sha256: str
    id: str


class KnownHashesOut(BaseModel):
    known: list[KnownHashOut]


@router.post("/known-hashes")
async def known_hashes(body: KnownHashesIn, principal: ImagesReader, images: Images) -> KnownHashesOut:
    """Which of these SHA-256 hashes the caller has as live images, with their ids."""
    asked = list(dict.fromkeys(body.sha256))
    found = await images.live_ids_by_sha256(principal.user_id, asked)
    return KnownHashesOut(known=[KnownHashOut(sha256=sha256, id=found[sha256]) for sha256 in asked if sha256 in found])
