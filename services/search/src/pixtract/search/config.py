from __future__ import annotations

from typing import ClassVar

from pydantic import Field
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
