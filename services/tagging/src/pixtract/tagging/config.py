from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pixtract.common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIXTRACT_TAGGING_", env_nested_delimiter="__", extra="ignore")

    default_mongo_database: ClassVar[str] = "tagging"

    service_name: str = "tagging"
    port: int = 8103
    # CPU-bound: a 12 MP JPEG takes ~50 ms (draft decoding), a 12 MP PNG ~350 ms; threads
    # beyond the cores only queue.
    workers: int = Field(default=2, ge=1, le=16)
    # Refuse to decode images above this many pixels (decompression-bomb guard).
    max_pixels: int = Field(default=100_000_000, ge=1)
    # Recorded in every result, so images tagged by an older model can be found and redone.
    model_version: str = Field(default="tagging-1-colors-phash", min_length=1)
