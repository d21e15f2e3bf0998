from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pixtract.common.config import ServiceSettings

MIB = 1024 * 1024


class DownloadMode(StrEnum):
    # Bytes flow through this service: works with any S3 endpoint, private or not.
    STREAM = "stream"
    # 307 to a presigned URL: the S3 endpoint must be reachable by the client.
    REDIRECT = "redirect"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIXTRACT_UPLOAD_", env_nested_delimiter="__", extra="ignore")

    default_mongo_database: ClassVar[str] = "media"

    service_name: str = "upload"
    port: int = 8102

    max_file_bytes: int = Field(default=100 * MIB, ge=1)
    max_files: int = Field(default=50, ge=1, description="files per upload request")
    # Checked from the header, before any pixel is decoded (decompression-bomb guard).
    max_pixels: int = Field(default=100_000_000, ge=1)
    # Parts up to this size stay in memory while they are received; bigger ones go to disk.
    spool_memory_bytes: int = Field(default=1 * MIB, ge=0)
    # None: the system temporary directory (mount a writable volume there in read-only pods).
    spool_dir: str | None = None
    # Decoding and thumbnailing are CPU-bound; each worker may hold one decoded image.
    workers: int = Field(default=2, ge=1, le=32)

    download_mode: DownloadMode = DownloadMode.STREAM
    presign_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    thumbnail_max_age_seconds: int = Field(default=86_400, ge=0)

    # Resumable uploads (tus, /api/v1/uploads). Their bytes wait in S3 segments of this size
    # (a PATCH holds at most one in memory); a smaller last segment is rewritten with the
    # next PATCH's bytes while it is under `resumable_merge_below_bytes`.
    resumable_segment_bytes: int = Field(default=8 * MIB, ge=64 * 1024)
    resumable_merge_below_bytes: int = Field(default=1 * MIB, ge=0)
    # An incomplete upload is removed this long after its last PATCH; a completed one is forgotten.
    resumable_expire_seconds: int = Field(default=24 * 3600, ge=1)
    # How long a request may hold an upload before another may take it over (a crashed replica).
    resumable_lease_seconds: int = Field(default=60, ge=1)
    resumable_sweep_seconds: float = Field(default=60.0, gt=0)

    outbox_sweep_seconds: float = Field(default=1.0, gt=0)
    reemit_after_seconds: int = Field(default=600, ge=1)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    # After this many emissions without every result, the image is marked failed at its pending stage.
    max_attempts: int = Field(default=5, ge=1)
