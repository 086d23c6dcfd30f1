"""Settings common to every service, read from the environment (never at import time)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.auth import ApiKeys, TokenVerifier, parse_role_map


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

    # hide_input_in_errors: a refused setting must not print its value (keys, passwords).
    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_", extra="ignore",
                                      hide_input_in_errors=True)

    service: str = "service"
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "CLOSEDLOOP_DATABASE_URL"),
        description="PostgreSQL URL; the service keeps its data in a schema named after it.",
    )
    # NoDecode: the variable is `key:role,key:role@person,sha256:<hex>:role`, not JSON.
    # Placeholder or weak keys are refused here, so the service does not start with them.
    api_keys: Annotated[ApiKeys, NoDecode] = Field(
        default_factory=ApiKeys, description="key:role,key:role@person,sha256:<hex>:role")
    # OIDC bearer tokens, beside API keys: on when a JWKS URL or a public key is set.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_public_key: str = Field(default="", description="PEM, instead of a JWKS URL")
    oidc_algorithms: str = "RS256"
    oidc_person_claim: str = "preferred_username"
    oidc_roles_claim: str = Field(default="roles",
                                  description="dotted path, e.g. realm_access.roles")
    oidc_role_map: str = Field(default="", description="claim-value:role,…; empty: role names")
    # Followers of the log wake on every save (NOTIFY); this poll is only a safety net.
    relay_poll_seconds: float = 1.0
    # Connections to PostgreSQL for reading read models and claiming work (asyncpg). Each is a
    # backend process holding 2-3 MiB; on two cores three page as fast as ten
    # (docs/adr/database-connections.md). The event store's own pool follows the worker threads.
    read_connections: int = Field(default=3, ge=1)
    consumer_batch: int = 100
    max_deliver: int = 5
    otel_exporter: str = "none"  # none | console | otlp
    log_level: str = "INFO"
    max_batch: int = 10_000
    # The OpenAPI page and schema are open routes, like health; set false to require a key.
    open_docs: bool = True
    # Encrypts (AES-GCM) every stored event at rest, e.g. channel secrets; 16/24/32 bytes, base64.
    cipher_key: str = ""
    # Keys the hash chain over stored events (tamper evidence); keep it out of the database.
    chain_key: str = ""
    # Demos and rehearsals only: /v1/clock/advance moves this service's clock forward
    # (shared/clock_api.py). Off in production: every deadline reads the clock.
    clock_adjustable: bool = False

    @model_validator(mode="after")
    def _check_oidc(self) -> "ServiceSettings":
        if (self.oidc_jwks_url or self.oidc_public_key) and not (
                self.oidc_issuer and self.oidc_audience):
            raise ValueError("CLOSEDLOOP_OIDC_ISSUER and CLOSEDLOOP_OIDC_AUDIENCE must both be set "
                             "when tokens are accepted (CLOSEDLOOP_OIDC_JWKS_URL or _PUBLIC_KEY)")
        parse_role_map(self.oidc_role_map)
        return self

    def token_verifier(self, now: Callable[[], datetime]) -> TokenVerifier | None:
        if not (self.oidc_jwks_url or self.oidc_public_key):
            return None
        return TokenVerifier(
            issuer=self.oidc_issuer, audience=self.oidc_audience,
            algorithms=[a.strip() for a in self.oidc_algorithms.split(",") if a.strip()],
            person_claim=self.oidc_person_claim, roles_claim=self.oidc_roles_claim,
            role_map=parse_role_map(self.oidc_role_map), now=now,
            jwks_url=self.oidc_jwks_url, public_key=self.oidc_public_key)

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
