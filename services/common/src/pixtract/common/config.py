"""Settings shared by every service.

Each service subclasses `ServiceSettings` with its own env prefix
(`PIXTRACT_<SERVICE>_`) and nested delimiter `__`, e.g.
`PIXTRACT_UPLOAD_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092`. Settings are built and passed
to `create_app(settings)`, never imported as a global, so tests can build apps with others.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "pixtract", "pixtract-dev-secret"})
MIN_INTERNAL_TOKEN_CHARS = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    # Real Kafka supports the idempotent producer; the local Tansu broker does not.
    enable_idempotence: bool = True
    # Joining a group waits half the session timeout on Tansu, so keep it short enough.
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    # How long a fetch may wait for data. Each upload crosses three hops (uploaded →
    # results → indexed), so this bounds the idle latency a hop can add.
    fetch_max_wait_ms: int = Field(default=100, ge=0)
    max_retries: int = Field(default=3, ge=0, description="handler retries before the DLQ")
    retry_backoff_s: float = Field(default=0.5, gt=0)
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # CA bundle for SSL/SASL_SSL brokers with a private CA; None trusts the system CAs.
    ssl_cafile: str | None = None


class MongoSettings(BaseModel):
    url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/?directConnection=true")
    database: str = "pixtract"
    server_selection_timeout_ms: int = 5_000


class S3Settings(BaseModel):
    endpoint_url: str | None = "http://127.0.0.1:8333"
    region: str = "us-east-1"
    access_key_id: str = "pixtract"
    secret_access_key: SecretStr = SecretStr("pixtract-dev-secret")
    bucket: str = "pixtract-media"


class OpenSearchSettings(BaseModel):
    url: str = "http://127.0.0.1:9200"
    username: str | None = None
    password: SecretStr | None = None
    index_alias: str = "pixtract-images"
    verify_certs: bool = True


class AuthSettings(BaseModel):
    """How a service verifies tokens issued by the auth service."""

    jwks_url: str = "http://127.0.0.1:8101/.well-known/jwks.json"
    issuer: str = "pixtract-auth"
    audience: str = "pixtract"
    jwks_cache_seconds: int = 300
    # API keys are checked by asking the auth service (it alone holds their hashes).
    introspect_url: str = "http://127.0.0.1:8101/internal/v1/api-keys/introspect"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    # Services that never touch S3 (auth, search) set this False so production does not
    # demand an S3 secret from them.
    uses_s3: ClassVar[bool] = True
    # The database a service owns. Applied when no MONGO__DATABASE is given, even if other
    # MONGO__ settings are (a field default on `mongo` would be dropped as soon as one is).
    default_mongo_database: ClassVar[str] = "pixtract"

    service_name: str = "pixtract"
    environment: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8100
    log_level: str = "INFO"
    log_json: bool = True
    kafka: KafkaSettings = KafkaSettings()
    mongo: MongoSettings = MongoSettings()
    s3: S3Settings = S3Settings()
    opensearch: OpenSearchSettings = OpenSearchSettings()
    auth: AuthSettings = AuthSettings()
    # The credential services present to each other's /internal/ endpoints (the ingress never
    # routes those). Unset: a service's internal endpoints answer 404, as if they did not exist.
    internal_token: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_mongo_database(cls, data: Any) -> Any:
        if isinstance(data, dict):
            mongo = data.get("mongo")
            if mongo is None:
                data["mongo"] = {"database": cls.default_mongo_database}
            elif isinstance(mongo, dict):
                mongo.setdefault("database", cls.default_mongo_database)
        return data

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        production = self.environment is Environment.PRODUCTION
        if production and self.uses_s3 and self.s3.secret_access_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("s3.secret_access_key is a placeholder; set a real secret in production")
        token = self.internal_token.get_secret_value() if self.internal_token is not None else None
        # In every environment: on a laptop too it is all that guards the internal endpoints.
        if token is not None and (token in PLACEHOLDER_SECRETS or len(token) < MIN_INTERNAL_TOKEN_CHARS):
            raise ValueError(f"internal_token must be a random secret of {MIN_INTERNAL_TOKEN_CHARS} characters or more")
        return self
