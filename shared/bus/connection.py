"""How a process connects to NATS: its own user, a private reply inbox, and TLS when asked.
Returned as nats.connect() keyword arguments so every caller connects the same way."""
from __future__ import annotations

import ssl
from typing import Any

from shared.settings import NatsSettings

INBOX_ROOT = "_INBOX"


def inbox_prefix(user: str) -> str:
    """Replies (publish acks, fetched messages) come back under `_INBOX.<user>.`, so a user
    may subscribe only to its own replies, never to another service's deliveries."""
    return f"{INBOX_ROOT}.{user}" if user else INBOX_ROOT


def tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    """A client TLS context when a CA or client certificate is configured; `tls://` URLs
    without either are verified against the system's CAs by nats-py itself."""
    if not (settings.nats_tls_ca_file or settings.nats_tls_cert_file):
        return None
    context = ssl.create_default_context(cafile=settings.nats_tls_ca_file or None)
    if settings.nats_tls_cert_file:
        if not settings.nats_tls_key_file:
            raise ValueError("CLOSEDLOOP_NATS_TLS_KEY_FILE is required with "
                             "CLOSEDLOOP_NATS_TLS_CERT_FILE (the client certificate's key)")
        context.load_cert_chain(settings.nats_tls_cert_file, settings.nats_tls_key_file)
    return context


def connect_options(settings: NatsSettings) -> dict[str, Any]:
    """Keyword arguments for nats.connect(): servers, credentials, inbox and TLS."""
    options: dict[str, Any] = {"servers": [u.strip() for u in settings.nats_url.split(",")],
                               "inbox_prefix": inbox_prefix(settings.nats_user)}
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options
