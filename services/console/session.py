"""The sign-in session: a cookie sealed with Fernet (encrypted and signed, so the API key in
it is neither readable nor forgeable), HttpOnly and SameSite=Lax, with a CSRF token that every
state-changing form must send back."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response

from services.console.settings import ConsoleSettings

COOKIE = "closedloop_console"
LANG_COOKIE = "closedloop_lang"
LANGS = ("zh", "en")


class Sessions:
    def __init__(self, settings: ConsoleSettings) -> None:
        secret = settings.session_secret.get_secret_value().encode()
        self.fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret).digest()))
        self.ttl = int(settings.session_hours * 3600)
        self.secure = settings.secure_cookies

    def read(self, request: Request) -> dict[str, Any]:
        """The session, or {} when absent, altered or expired."""
        sealed = request.cookies.get(COOKIE)
        if not sealed:
            return {}
        try:
            return json.loads(self.fernet.decrypt(sealed.encode(), ttl=self.ttl))
        except (InvalidToken, ValueError):
            return {}

    def write(self, response: Response, data: dict[str, Any]) -> None:
        sealed = self.fernet.encrypt(json.dumps(data).encode()).decode()
        response.set_cookie(COOKIE, sealed, max_age=self.ttl, httponly=True, samesite="lax",
                            secure=self.secure, path="/")

    def with_csrf(self, data: dict[str, Any]) -> dict[str, Any]:
        return data if data.get("csrf") else {**data, "csrf": secrets.token_urlsafe(24)}


def csrf_ok(session: dict[str, Any], sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent and secrets.compare_digest(expected, sent))


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGS else "zh"
