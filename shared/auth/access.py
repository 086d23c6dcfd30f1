"""FastAPI dependencies: who is calling (`identify`), what a route needs (`require`), and in
whose name a request acts (`acting_as`). Every route declares its requirement."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.roles import Identity, Role
from shared.auth.tokens import looks_like_jwt

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)
_challenge = {"WWW-Authenticate": "Bearer"}


# Plain def: a JWKS fetch blocks, so FastAPI runs it in its thread pool.
def identify(request: Request,
             api_key: str | None = Depends(_api_key_header),
             bearer: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Identity:
    """The caller's identity from an API key (X-API-Key, or as a bearer) or an OIDC token."""
    presented = api_key or (bearer.credentials if bearer else None)
    if not presented:
        raise HTTPException(401, "missing credentials: send an API key in the X-API-Key header "
                            "or a token as Authorization: Bearer", headers=_challenge)
    tokens = getattr(request.app.state, "tokens", None)
    if tokens is not None and not api_key and looks_like_jwt(presented):
        return tokens.identify(presented)
    identity = request.app.state.api_keys.identify(presented)
    if identity is None:
        raise HTTPException(401, "unknown API key", headers=_challenge)
    return identity


class Requirement:
    """A route's dependency and its declaration: the minimum role, and whether only a person
    (not a service identity) may call it. `declared_requirements` reads it back."""

    def __init__(self, minimum: Role, person_bound: bool = False) -> None:
        self.minimum, self.person_bound = minimum, person_bound

    async def __call__(self, request: Request, identity: Identity = Depends(identify)) -> Role:
        if not identity.satisfies(self.minimum):
            raise HTTPException(403, self._too_weak(identity))
        if self.person_bound and identity.person is None:
            raise HTTPException(403, "this action must be done by a person: your "
                                f"{identity.source} is a service identity bound to no one. Use "
                                "a key bound to you (key:role@you) or a token with your name in it")
        request.state.identity = identity
        request.state.role, request.state.person = identity.role, identity.person
        return identity.role

    def _too_weak(self, identity: Identity) -> str:
        held = ", ".join(sorted(identity.roles))
        if identity.roles == {Role.INGEST}:
            return (f"an ingest-only {identity.source} may only send samples and alerts; "
                    f"this action needs the {self.minimum} role")
        if self.minimum is Role.INGEST:
            return (f"sending data needs the ingest role or responder and above; your "
                    f"{identity.source} has {held}")
        return f"this action needs the {self.minimum} role; your {identity.source} has {held}"

    def __repr__(self) -> str:
        return f"require({self.minimum}{', person_bound=True' if self.person_bound else ''})"


def require(minimum: Role, *, person_bound: bool = False) -> Requirement:
    """Dependency: the caller must hold `minimum` (ingest: ingest or responder and above) and,
    when `person_bound`, be a person. Use on every route: build_api refuses a route without."""
    return Requirement(minimum, person_bound)


@dataclass(frozen=True)
class RouteRule:
    """One API route and what it declares: the table build_api checks and tests read."""

    methods: frozenset[str]
    path: str
    requirements: tuple[Requirement, ...]


def route_table(routes: Iterable[object], prefix: str = "",
                inherited: tuple[Requirement, ...] = ()) -> list[RouteRule]:
    """Every API route under `routes` with its requirements, also through included routers
    (newer FastAPI keeps them as branches instead of copying their routes)."""
    table = []
    for route in routes:
        if isinstance(route, APIRoute):
            table.append(RouteRule(frozenset(route.methods), prefix + route.path,
                                   inherited + tuple(_requirements(route.dependant))))
        elif (branch := getattr(route, "original_router", None)) is not None:
            context = route.include_context
            extra = tuple(d.dependency for d in context.dependencies
                          if isinstance(d.dependency, Requirement))
            table += route_table(branch.routes, prefix + context.prefix, inherited + extra)
    return table


def _requirements(dependant) -> list[Requirement]:
    found, pending = [], list(dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, Requirement):
            found.append(dependant.call)
        pending.extend(dependant.dependencies)
    return found


def refuse_undeclared(routes: Iterable[object]) -> None:
    """Start-up check: every API route says who may call it, so none is open by omission."""
    for rule in route_table(routes):
        if not rule.requirements:
            raise RuntimeError(
                f"route {','.join(sorted(rule.methods))} {rule.path} declares no role: add "
                "dependencies=[Depends(require(Role.…))] (open routes belong in open_routes())")


def caller(request: Request) -> str:
    """A printable name for who made the request (never the key itself)."""
    return getattr(request.state, "person", None) or request.headers.get("X-Actor") or "api"


def acting_as(request: Request, claimed: str, field: str = "by", *,
              on_behalf: bool = True) -> str:
    """The person a request acts as. A person-bound identity may only name that person, unless
    it has the manager role and records work on someone's behalf (`on_behalf`). Without
    `on_behalf` (a verification or an approval, whose point is who did it) a service identity
    may name no one."""
    person = getattr(request.state, "person", None)
    if person is None:
        if on_behalf:
            return claimed
        raise HTTPException(403, f"{field}: only a person can be named here; a service key "
                            "cannot act as a verifier. Use a key bound to a person "
                            "(key:role@name) or a token with a person claim")
    if claimed == person:
        return claimed
    if on_behalf and getattr(request.state, "role", Role.VIEWER).rank >= Role.MANAGER.rank:
        return claimed
    raise HTTPException(403, f"{field}: this key belongs to {person}; it cannot act as {claimed}")
