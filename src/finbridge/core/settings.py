"""Settings from the environment (FINBRIDGE_*), built once at the entry point and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_SECRET = "dev-only-secret-change-me-0000000000000000"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    """Everything configurable. Embedded defaults run with no server to install."""

    model_config = SettingsConfigDict(env_prefix="FINBRIDGE_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file and lake live")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in data_dir"
    )
    lake_dir: Path | None = Field(
        default=None, description="Parquet event lake; default data_dir/lake"
    )
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(_DEV_SECRET)
    pii_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated key-id:base64 AES keys for the PII vault, newest first",
    )
    business_timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 20 * 1024 * 1024
    api_key_prefix: str = "fbk"
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API key is trusted without a database lookup; a key "
        "revoked in another process stops working within this time (0 turns the cache off)",
    )
    credit_partner_url: str | None = Field(
        default=None, description="The partner's party endpoint for online joint scoring"
    )
    credit_certs: Path | None = Field(
        default=None, description="Folder with the bank's mTLS certificates for the partner link"
    )

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key.get_secret_value() == _DEV_SECRET:
            raise ValueError("FINBRIDGE_SECRET_KEY must be set in production")
        if self.env == "production" and self.pii_keys is None:
            raise ValueError("FINBRIDGE_PII_KEYS must be set in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'finbridge.db').resolve()}"

    @property
    def resolved_lake_dir(self) -> Path:
        return (self.lake_dir or self.data_dir / "lake").resolve()
