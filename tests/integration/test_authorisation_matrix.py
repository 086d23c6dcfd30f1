"""The authorisation matrix, on the four running services over real NATS and PostgreSQL:
every route (read from each app's own route table, so new routes are covered as they come) ×
every kind of caller gets the answer its declared requirement promises."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute

from shared.auth import Requirement, Role, route_table
from tests.harness import (
    ADMIN_KEY, INGEST_KEY, MANAGER_KEY, OPERATOR_KEY, PERSON_KEYS, RESPONDER_KEY,
    SERVICE_NAMES, VIEWER_KEY, RunningService, service_app,
)

pytestmark = pytest.mark.integration

# The only routes anyone may call: health, readiness, metrics, and the OpenAPI pages…
OPEN = {"/healthz", "/readyz", "/metrics"}
# …and the one-click acknowledge and satisfaction links, whose credential is the signed link in the URL: with
# a made-up link every caller, key or not, is refused for the link (400), never let through.
# PagerDuty's Events API v2 is the same: its credential is the routing key in the body.
SIGNED_LINKS = {("incidents", "/v1/ack/{token}"), ("incidents", "/v1/score/{token}"),
                ("detector", "/v2/enqueue"), ("detector", "/v1/ingest/pagerduty")}
OPEN_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# Policy pinned here, not only read from the routes: machine senders reach these…
# Routes that stream until the caller leaves (server-sent events).
STREAMS = {"/v1/board/events"}
INGEST_ROUTES = {("detector", "POST", "/v1/samples"), ("detector", "POST", "/v1/ingest/alertmanager"),
                 ("detector", "POST", "/v1/ingest/webhook/{source}"), ("detector", "POST", "/v1/events")}
# …and these need a person, never a service key.
PERSON_ROUTES = {("capa", "POST", "/v1/capa/{capa_id}/actions/{action_id}/verify")}
LADDER = ["viewer", "responder", "manager", "admin"]


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    role: str | None = None  # None: no credential the service knows
    person: str | None = None


CALLERS = [
    Caller("no key", {}),
    Caller("wrong key", {"X-API-Key": "harness-wrong-0a9b8c7d6e5f"}),
    Caller("wrong bearer", {"Authorization": "Bearer harness-wrong-0a9b8c7d6e5f"}),
    Caller("ingest", {"X-API-Key": INGEST_KEY}, "ingest"),
    Caller("viewer", {"X-API-Key": VIEWER_KEY}, "viewer"),
    Caller("viewer as bearer", {"Authorization": f"Bearer {VIEWER_KEY}"}, "viewer"),
    Caller("responder service key", {"X-API-Key": RESPONDER_KEY}, "responder"),
    Caller("manager service key", {"X-API-Key": MANAGER_KEY}, "manager"),
    Caller("admin service key", {"X-API-Key": ADMIN_KEY}, "admin"),
    Caller("responder bound to alice", {"X-API-Key": PERSON_KEYS["alice"]}, "responder", "alice"),
    Caller("admin bound to the operator", {"X-API-Key": OPERATOR_KEY}, "admin", "operator"),
]


def admits(caller: Caller, requirement: Requirement) -> bool:
    """The policy, written out independently of shared/auth: ingest sits beside the ladder."""
    if requirement.minimum is Role.INGEST:
        allowed = caller.role in ("ingest", "responder", "manager", "admin")
    else:
        allowed = caller.role in LADDER and LADDER.index(caller.role) >= LADDER.index(requirement.minimum)
    return allowed and (caller.person is not None or not requirement.person_bound)


def expected(caller: Caller, requirements: tuple[Requirement, ...]) -> str:
    if caller.role is None:
        return "401"
    return "allowed" if all(admits(caller, r) for r in requirements) else "403"


def outcome(status: int) -> str:
    return {401: "401", 403: "403"}.get(status, "allowed")


def concrete(path: str) -> str:
    # Made-up ids: an allowed caller gets 404/422 (or 200), never 401/403.
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


@pytest.fixture(params=sorted(SERVICE_NAMES))
def running(request, database_url, nats_url):
    service = RunningService(service_app(request.param, database_url=database_url,
                                         nats_url=nats_url)).start()
    yield request.param, service
    service.stop()


def test_every_route_answers_every_caller_as_its_declared_role_says(running):
    name, service = running
    table = route_table(service.app.routes)
    signed = {path for service, path in SIGNED_LINKS if service == name}
    undeclared = [(sorted(r.methods), r.path) for r in table
                  if not r.requirements and r.path not in OPEN | signed]
    assert not undeclared, f"{name}: routes with no declared role: {undeclared}"
    others = {route.path for route in service.app.routes
              if not isinstance(route, APIRoute) and hasattr(route, "path")}
    assert others <= OPEN_DOCS, f"{name}: routes outside the route table: {others - OPEN_DOCS}"

    declared = {(name, method, r.path): r.requirements for r in table for method in r.methods}
    for key in INGEST_ROUTES | PERSON_ROUTES:
        if key[0] == name:
            [requirement] = declared[key]
            assert requirement.minimum is (Role.INGEST if key in INGEST_ROUTES else Role.RESPONDER)
            assert requirement.person_bound is (key in PERSON_ROUTES)

    wrong, seen = [], set()
    with httpx.Client(base_url=service.url, timeout=10) as client:
        for rule in table:
            for method in sorted(rule.methods - {"HEAD"}):
                for caller in CALLERS:
                    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                    if rule.path in STREAMS:  # never ends: its status, then close it
                        with client.stream(method, concrete(rule.path),
                                           headers=caller.headers) as response:
                            pass
                    else:
                        response = client.request(method, concrete(rule.path),
                                                  headers=caller.headers, **body)
                    if rule.path in signed:
                        if response.status_code != 400:
                            wrong.append(f"{method} {rule.path} as {caller.name}: "
                                         f"{response.status_code} (expected 400, a made-up "
                                         f"link) {response.text[:120]}")
                        continue
                    want = "allowed" if rule.path in OPEN else expected(caller, rule.requirements)
                    got = outcome(response.status_code)
                    seen.add(want)
                    # A made-up request may be refused (404, 422) but never crash a service.
                    if got != want or (rule.path not in OPEN and response.status_code >= 500):
                        wrong.append(f"{method} {rule.path} as {caller.name}: "
                                     f"{response.status_code} (expected {want}) {response.text[:120]}")
                    if want == "401":
                        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert not wrong, f"{name}:\n" + "\n".join(wrong)
    assert seen == {"401", "403", "allowed"}  # the matrix exercised every kind of answer
