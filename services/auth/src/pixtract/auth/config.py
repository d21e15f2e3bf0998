from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from argon2 import profiles
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from pixtract.common.config import ServiceSettings

_ARGON2_DEFAULTS = profiles.RFC_9106_LOW_MEMORY


class PasswordHashingSettings(BaseModel):
    """argon2id cost; a hash records its own parameters, so raising these rehashes users at their next login."""

    time_cost: int = Field(default=_ARGON2_DEFAULTS.time_cost, ge=1)
    memory_cost_kib: int = Field(default=_ARGON2_DEFAULTS.memory_cost, ge=8)
    parallelism: int = Field(default=_ARGON2_DEFAULTS.parallelism, ge=1)
    # Hashes run at once (each takes memory_cost_kib): bounds memory under a burst of logins.
    workers: int = Field(default=2, ge=1, le=16)


class LoginThrottleSettings(BaseModel):
    """Failed logins counted per account and per client address in a fixed window."""

    enabled: bool = True
    window_seconds: int = Field(default=900, ge=1)
    max_failures_per_account: int = Field(default=10, ge=1)
    # One address may be a whole office behind NAT: far more generous than per account.
    max_failures_per_ip: int = Field(default=100, ge=1)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIXTRACT_AUTH_", env_nested_delimiter="__", extra="ignore")

    uses_s3: ClassVar[bool] = False
    default_mongo_database: ClassVar[str] = "auth"

    service_name: str = "auth"
    port: int = 8101
    # Every *.pem RSA private key here is published in the JWKS; the one whose file name
    # sorts last signs. Generated keys are named by their UTC creation time.
    signing_key_dir: Path = Path(".data/auth/keys")
    # A single mounted key (a Kubernetes Secret): when set it signs, and keys in
    # signing_key_dir (if any) are still published so tokens they signed stay valid.
    signing_key_file: Path | None = None
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    # Sliding: each rotation gives the new refresh token this long again.
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    password_hashing: PasswordHashingSettings = PasswordHashingSettings()
    login_throttle: LoginThrottleSettings = LoginThrottleSettings()
    # How often the outbox relay looks for user deletions whose event is not yet published.
    outbox_interval_seconds: float = Field(default=5.0, gt=0)
