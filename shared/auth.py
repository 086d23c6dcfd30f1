"""API keys mapped to roles; every route needs one unless it opts out explicitly."""
from __future__ import annotations

import hmac
from enum import StrEnum

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer


class Role(StrEnum):
    VIEWER = "viewer"
    RESPONDER = "responder"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class ApiKeys(dict[str, Role]):
    """key → role, parsed from `key:role,key:role@person`. A key bound to a person (`@name`)
    acts only as that person; a key without one is a service account that names the actor in
    the request."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.people: dict[str, str] = {}

    @classmethod
    def parse(cls, text: str) -> "ApiKeys":
        keys = cls()
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, _, role = item.rpartition(":")
            if not key:
                raise ValueError(f"api key entry {item!r} must look like key:role")
            role, _, person = role.partition("@")
            if person.strip():
                keys.people[key] = person.strip()
            try:
                keys[key] = Role(role)
            except ValueError:
                raise ValueError(
                    f"api key role {role!r} is not one of {', '.join(Role)}"
                ) from None
        return keys

    def role_of(self, presented: str) -> Role | None:
        key = self._match(presented)
        return None if key is None else self[key]

    def person_of(self, presented: str) -> str | None:
        key = self._match(presented)
        return None if key is None else self.people.get(key)

    def _match(self, presented: str) -> str | None:
        # Compare every key in constant time so timing does not reveal a prefix.
        found = None
        for key in self:
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = key
        return found


_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def require(minimum: Role):
    """Dependency: the caller's key must map to `minimum` or a stronger role."""

    def check(
        request: Request,
        api_key: str | None = Depends(_api_key_header),
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Role:
        presented = api_key or (bearer.credentials if bearer else None)
        if not presented:
            raise HTTPException(401, "missing API key: send it in the X-API-Key header",
                                headers={"WWW-Authenticate": "Bearer"})
        keys = request.app.state.api_keys
        role = keys.role_of(presented)
        if role is None:
            raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
        if role.rank < minimum.rank:
            raise HTTPException(403, f"this action needs the {minimum} role; your key has {role}")
        request.state.role, request.state.person = role, keys.person_of(presented)
        return role

    return check


def caller(request: Request) -> str:
    """A printable name for who made the request (never the key itself)."""
    return getattr(request.state, "person", None) or request.headers.get("X-Actor") or "api"


def acting_as(request: Request, claimed: str, field: str = "by", *,
              on_behalf: bool = True) -> str:
    """The person a request acts as. A key bound to a person may only name that person,
    unless it has the manager role and records work on someone's behalf (`on_behalf`; never
    for a verification, whose point is who did it)."""
    person = getattr(request.state, "person", None)
    if person is None or claimed == person:
        return claimed
    if on_behalf and getattr(request.state, "role", Role.VIEWER).rank >= Role.MANAGER.rank:
        return claimed
    raise HTTPException(403, f"{field}: this key belongs to {person}; it cannot act as {claimed}")
