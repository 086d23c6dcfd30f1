"""API keys held only as SHA-256 digests, compared in constant time; placeholder and weak
keys are refused when the settings are read, so a service never starts with one."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic_core import core_schema

from shared.auth.roles import Identity, Role

MIN_LENGTH = 16
MIN_DISTINCT = 8
# Words that mark a key someone meant to replace, searched in the key lower-cased with
# separators removed ("Change_Me-1" → "changeme1").
PLACEHOLDERS = ("changeme", "replaceme", "placeholder", "example", "secret", "password",
                "passwd", "default", "dummy", "sample", "admin", "test", "demo")
HASHED = re.compile(r"sha256:([0-9a-fA-F]{64})")
FIX = ("generate one with `openssl rand -hex 32` (or `python -c 'import secrets; "
       "print(secrets.token_hex(32))'`), or give its hash as sha256:<hex>:role")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def weakness(key: str) -> str | None:
    """Why `key` must not be used, or None when it is acceptable."""
    if len(key) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    folded = re.sub(r"[^a-z0-9]", "", key.lower())
    for word in PLACEHOLDERS:
        if word in folded:
            return f"contains the placeholder word {word!r}"
    if len(set(key)) < MIN_DISTINCT:
        return f"uses fewer than {MIN_DISTINCT} different characters"
    return None


def generate_key() -> str:
    """A fresh key that passes `weakness` (hex cannot spell a placeholder word)."""
    while weakness(key := secrets.token_hex(32)):
        continue
    return key


@dataclass(frozen=True)
class KeyEntry:
    digest: bytes
    role: Role
    person: str | None

    def __repr__(self) -> str:  # never the digest: it would let a log reader test guesses
        return f"KeyEntry({self.role}{'@' + self.person if self.person else ''})"


class ApiKeys:
    """Parsed from `key:role,key:role@person,sha256:<hex>:role`. A key bound to a person
    (`@name`) acts only as that person; a key without one is a service identity. Only digests
    are kept, so neither memory dumps nor settings reprs hold a usable key."""

    def __init__(self, entries: tuple[KeyEntry, ...] = ()) -> None:
        self.entries = entries

    @classmethod
    def parse(cls, text: str, setting: str = "CLOSEDLOOP_API_KEYS") -> "ApiKeys":
        items = [part.strip() for part in text.split(",")]
        return cls(tuple(_entry(item, n, setting)
                         for n, item in enumerate(filter(None, items), start=1)))

    def identify(self, presented: str) -> Identity | None:
        # Every entry is compared, in constant time, so timing says nothing about which matched.
        wanted, found = digest(presented), None
        for entry in self.entries:
            if hmac.compare_digest(entry.digest, wanted):
                found = entry
        if found is None:
            return None
        return Identity(frozenset({found.role}), found.person, "API key")

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"ApiKeys({list(self.entries)!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda value: cls.parse(value) if isinstance(value, str) else _instance(cls, value))


def _instance(cls: type, value: Any) -> Any:
    if not isinstance(value, cls):
        raise ValueError("api keys must be a string of key:role entries")
    return value


def _entry(item: str, n: int, setting: str) -> KeyEntry:
    # Refusals name the entry by position and role, never by the key: secrets stay out of logs.
    key, _, grant = item.rpartition(":")
    role_name, _, person = grant.partition("@")
    if not key.strip():
        raise ValueError(f"{setting} entry {n} must look like key:role or sha256:<hex>:role")
    try:
        role = Role(role_name.strip())
    except ValueError:
        raise ValueError(f"{setting} entry {n}: role {role_name!r} is not one of "
                         f"{', '.join(Role)}") from None
    if key.startswith("sha256:"):
        hashed = HASHED.fullmatch(key)
        if not hashed:
            raise ValueError(f"{setting} entry {n} ({role}): a hashed key is sha256: followed "
                             "by 64 hex digits, e.g. from `printf %s KEY | sha256sum`")
        return KeyEntry(bytes.fromhex(hashed.group(1)), role, person.strip() or None)
    if reason := weakness(key):
        raise ValueError(f"{setting} entry {n} ({role}): the key {reason}, which marks a "
                         f"placeholder or guessable key; the service will not start with it. "
                         f"Replace it: {FIX}")
    return KeyEntry(digest(key), role, person.strip() or None)
