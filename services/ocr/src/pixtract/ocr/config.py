from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pixtract.common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIXTRACT_OCR_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "ocr"
    port: int = 8104
    # OCR is CPU-bound and holds ~0.5 GB per engine: one worker thread per core at most.
    workers: int = Field(default=1, ge=1, le=8)
    # Largest side handed to the engine; bigger photos are downscaled first.
    max_side: int = Field(default=2400, ge=320)
    # Refuse to decode images above this many pixels (decompression-bomb guard).
    max_pixels: int = Field(default=100_000_000, ge=1)
