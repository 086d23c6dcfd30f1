"""Settings common to every service, read from the environment (never at import time)."""
from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator
from typing import Annotated

from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.auth import ApiKeys


class NatsSettings(BaseSettings):
    """How to reach NATS: the URL, this process's own NATS user, and TLS when the URL is
    `tls://` or the server requires it (docs/adr/nats-users.md)."""

    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_", extra="ignore")

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "CLOSEDLOOP_NATS_URL"),
    )
    nats_user: str = Field(default="", description="this service's own NATS user")
    nats_password: SecretStr = SecretStr("")
    nats_tls_ca_file: str = Field(default="", description="CA that signed the server's cert")
    # Both set: a client certificate for servers that verify clients (mutual TLS).
    nats_tls_cert_file: str = ""
    nats_tls_key_file: str = ""


class ServiceSettings(NatsSettings):
    """One service's settings. Subclasses set `service` and add their own fields."""

    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_", extra="ignore")

    service: str = "service"
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "CLOSEDLOOP_DATABASE_URL"),
        description="PostgreSQL URL; the service keeps its data in a schema named after it.",
    )
    # NoDecode: the variable is `key:role,key:role`, not JSON.
    api_keys: Annotated[ApiKeys, NoDecode] = Field(default_factory=ApiKeys,
                                                   description="key:role,key:role")
    # Followers of the log wake on every save (NOTIFY); this poll is only a safety net.
    relay_poll_seconds: float = 1.0
    consumer_batch: int = 100
    max_deliver: int = 5
    otel_exporter: str = "none"  # none | console | otlp
    log_level: str = "INFO"
    max_batch: int = 10_000
    # The OpenAPI page and schema are open routes, like health; set false to require a key.
    open_docs: bool = True
    # Encrypts (AES-GCM) every stored event at rest, e.g. channel secrets; 16/24/32 bytes, base64.
    cipher_key: str = ""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: object) -> object:
        return ApiKeys.parse(value) if isinstance(value, str) else value

    @property
    def schema_name(self) -> str:
        return self.service

    def require_database(self) -> str:
        if not self.database_url:
            raise RuntimeError(
                f"{self.service}: DATABASE_URL is not set. Start the whole stack with "
                "`closedloop up` (embedded PostgreSQL) or export DATABASE_URL=postgresql://…"
            )
        return self.database_url
