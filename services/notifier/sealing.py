"""Channel secrets and header values are sealed (Fernet: AES-128-CBC + HMAC-SHA256) before
they enter an event, so the store, its backups and replays never hold them in clear."""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_SETTING = "CLOSEDLOOP_NOTIFIER_SECRETS_KEY"
PREFIX = "fernet:"
MAKE_ONE = ("python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'")


class SealingError(RuntimeError):
    pass


class Sealer:
    """Seals with the first key, opens with any: list a new key first to rotate, keep the old
    ones until every channel has been re-sealed (rotate its secret or edit its headers)."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in (keys or "").split(",") if k.strip()]
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts]) if parts else None
        except ValueError:
            raise SealingError(f"{KEY_SETTING}: each key must be 32 url-safe base64-encoded "
                               f"bytes; make one with {MAKE_ONE}") from None

    def require(self) -> MultiFernet:
        """The service refuses to start without a key (tools that only read, like replay,
        need none)."""
        if self._fernet is None:
            raise SealingError(f"{KEY_SETTING} is not set: the notifier seals channel secrets "
                               f"with it. `closedloop up` makes one; elsewhere run {MAKE_ONE}")
        return self._fernet

    def seal(self, value: str) -> str:
        return PREFIX + self.require().encrypt(value.encode()).decode()

    def open(self, value: str) -> str:
        # Values stored before sealing existed carry no prefix and are used as they are.
        if not value.startswith(PREFIX):
            return value
        try:
            return self.require().decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise SealingError(f"a channel secret was sealed with a key that {KEY_SETTING} no "
                               "longer lists; add the old key back after the new one") from None

    def seal_headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {name: self.seal(value) for name, value in headers.items()}

    def open_headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {name: self.open(value) for name, value in headers.items()}
