from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from pixtract.common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIXTRACT_SEARCH_", env_nested_delimiter="__", extra="ignore")
    # The index is all this service stores; production must not demand an S3 secret from it.
    uses_s3: ClassVar[bool] = False

    # Also the consumer group id, so a test can run beside a real deployment in its own group.
    service_name: str = "search"
    port: int = 8105
    # Where a reindex reads every image record from; the index is a view it can rebuild.
    upload_url: str = "http://127.0.0.1:8102"
    index_shards: int = Field(default=1, ge=1)
    index_replicas: int = Field(default=1, ge=0)
    # Rebuild from the upload service at start when the index is missing or empty, and when it
    # vanishes while running (the local stack's in-memory OpenSearch keeps nothing). Needs
    # internal_token. Off in production: there the reindex command runs as a Job.
    reindex_on_empty_index: bool = False
    reindex_page_size: int = Field(default=500, ge=1, le=1000)
    # Pause between creating the new index and reading the export (docs/design.md, "Reindex").
    reindex_grace_seconds: float = Field(default=2.0, ge=0)

    @model_validator(mode="after")
    def _reindex_needs_the_internal_token(self) -> Settings:
        if self.reindex_on_empty_index and self.internal_token is None:
            raise ValueError("reindex_on_empty_index needs internal_token to read the upload export")
        return self
