"""One-click acknowledge links: a signed, expiring claim that one person may acknowledge one
incident, minted by the notifier for a page and checked by the incidents service. The link
is the credential; whether it was used already is the incident's to know (single use)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from itsdangerous import BadData, BadPayload, BadSignature, URLSafeSerializer

# Scopes the key to this one use: a signature made for anything else never verifies here.
SALT = "closedloop.ack-link.v1"
# The requester's satisfaction link (support tiers): same keys, its own scope, so neither kind
# of link is ever accepted as the other.
SCORE_SALT = "closedloop.score-link.v1"
# Far above a real token (~190 characters); a longer one is not worth decoding.
MAX_TOKEN_CHARS = 1024
# URL-safe base64 payload (a leading dot when compressed), a dot, the signature.
_SHAPE = re.compile(r"^\.?[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")
_CLAIMS = {"n": str, "i": str, "p": str, "d": str, "e": int}
MIN_KEY_CHARS = 32


class Refusal(StrEnum):
    """Why a link does not verify; each is final (asking again gives the same answer)."""

    MALFORMED = "malformed"  # not a link of ours at all: cut short, mangled by a mail client
    FORGED = "forged"        # the signature does not match: altered, or signed with another key
    EXPIRED = "expired"      # genuine, but past its time


class AckLinkRefused(Exception):
    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AckClaims:
    """What a verified link says: who may acknowledge which incident, from which page."""

    link_id: str  # the token's own id (nonce): an incident records it when used, once
    incident_id: str
    person: str  # the handle of the person paged
    delivery_id: str  # the delivery that carried the link
    expires_at: datetime


class AckLinks:
    """Mint and verify links with HMAC-SHA256 keys: the first key signs, every key verifies,
    so a key is rotated by putting the new one first and dropping the old one once the links
    it signed have expired."""

    def __init__(self, keys: str | Sequence[str], salt: str = SALT) -> None:
        listed = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys)
                  if k.strip()]
        if not listed:
            raise ValueError("no ack-link key: set CLOSEDLOOP_ACK_LINK_KEY")
        if short := [k for k in listed if len(k) < MIN_KEY_CHARS]:
            raise ValueError(f"CLOSEDLOOP_ACK_LINK_KEY: {len(short)} key(s) shorter than "
                             f"{MIN_KEY_CHARS} characters; use `openssl rand -base64 32`")
        self.keys = tuple(listed)  # another scope (salt) signs with the same keys
        # itsdangerous signs with the last key of its list.
        self._serializer = URLSafeSerializer(list(reversed(listed)), salt=salt,
                                             signer_kwargs={"digest_method": hashlib.sha256})

    def mint(self, *, incident_id: str, person: str, delivery_id: str,
             expires_at: datetime, link_id: str | None = None) -> str:
        claims = {"n": link_id or secrets.token_urlsafe(12), "i": incident_id, "p": person,
                  "d": delivery_id, "e": int(expires_at.timestamp())}
        return self._serializer.dumps(claims)

    def verify(self, token: str, now: datetime) -> AckClaims:
        """The link's claims, or AckLinkRefused saying why not. The signature is checked
        before anything it covers is read or compared."""
        if len(token) > MAX_TOKEN_CHARS or not _SHAPE.match(token):
            raise AckLinkRefused(Refusal.MALFORMED, "this is not an acknowledge link: it may "
                                 "have been cut short when it was copied; open it from the "
                                 "message again")
        if not _canonical(token):
            raise _forged()
        try:
            claims = self._serializer.loads(token)
        except BadPayload:
            raise _malformed() from None
        except BadSignature:
            raise _forged() from None
        except BadData:
            raise _malformed() from None
        if not _well_formed(claims):
            raise _malformed()
        expires_at = datetime.fromtimestamp(claims["e"], timezone.utc)
        if now >= expires_at:
            raise AckLinkRefused(Refusal.EXPIRED, f"this acknowledge link expired at "
                                 f"{expires_at.strftime('%Y-%m-%d %H:%M UTC')}; acknowledge "
                                 "from the incident's page or the API instead")
        return AckClaims(link_id=claims["n"], incident_id=claims["i"], person=claims["p"],
                         delivery_id=claims["d"], expires_at=expires_at)


def check_keys(value: str) -> str:
    """Settings validator: an empty value turns links off; a set one must be usable."""
    if value.strip():
        AckLinks(value)
    return value


def _well_formed(claims: Any) -> bool:
    return isinstance(claims, dict) and all(
        isinstance(claims.get(key), kind) and (kind is not str or claims[key])
        for key, kind in _CLAIMS.items())


def _canonical(token: str) -> bool:
    """Whether each part is the one base64url spelling of its bytes. The last character of
    a part can carry unused bits; a link altered only there would decode to the same bytes and
    pass the signature, so it is refused as altered instead."""
    for part in token.lstrip(".").split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            return False
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != part:
            return False
    return True


def _forged() -> AckLinkRefused:
    return AckLinkRefused(Refusal.FORGED, "this acknowledge link's signature does not match: "
                          "it was altered or not issued here")


def _malformed() -> AckLinkRefused:
    return AckLinkRefused(Refusal.MALFORMED, "this acknowledge link cannot be read; open it "
                          "from the message again")
