"""API keys: parsing, the placeholder rule, hashed storage, roles (ingest beside the ladder),
the `require` dependency and person-bound actions, on real FastAPI routes."""
from __future__ import annotations

import hashlib

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from shared.auth import (
    ApiKeys, Role, acting_as, caller, generate_key, refuse_undeclared, require, route_table,
    weakness,
)
from shared.settings import ServiceSettings

OPS, LEAD, WALL = "ops-7f3a91c2e4b6d8a0", "store-lead-2b94e1c7a6d3", "wallboard-9c5e2a7f1b3d"
VIEW, RESP, MGR, ADM, FEED = ("view-5e1a9c3f7b2d", "resp-8d2f6b1e4a9c", "mgr-3c7a1f9e5b2d",
                              "adm-6f2b9d4e1c8a", "feed-1b8e4c7a2f9d")


def role_of(keys: ApiKeys, presented: str) -> Role | None:
    identity = keys.identify(presented)
    return None if identity is None else identity.role


# -- parsing and the placeholder rule --------------------------------------------------------

def test_keys_and_roles_are_parsed_from_a_comma_separated_list():
    keys = ApiKeys.parse(f"{OPS}:admin,{LEAD}:responder, ,{WALL}:viewer ,")
    assert [role_of(keys, k) for k in (OPS, LEAD, WALL)] == [Role.ADMIN, Role.RESPONDER, Role.VIEWER]
    assert len(keys) == 3 and len(ApiKeys.parse("")) == 0


@pytest.mark.parametrize("key, reason", [
    ("change-me-admin", "shorter than 16"),
    ("change-me-admin-please", "placeholder word 'changeme'"),
    ("Change_Me_0123456789", "placeholder word 'changeme'"),
    ("my-secret-key-for-prod", "placeholder word 'secret'"),
    ("super-admin-key-2026-x", "placeholder word 'admin'"),
    ("integration-test-key-1", "placeholder word 'test'"),
    ("passwordpassword123", "placeholder word 'password'"),
    ("aaaaaaaabbbbbbbbcccc", "fewer than 8 different characters"),
])
def test_a_placeholder_or_weak_key_stops_the_service_from_starting(key, reason):
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(api_keys=f"{OPS}:admin,{key}:viewer")
    message = str(refused.value)
    assert "CLOSEDLOOP_API_KEYS entry 2 (viewer)" in message and reason in message
    assert "openssl rand -hex 32" in message  # the fix
    assert key not in message  # the key itself never reaches a log


def test_generated_keys_pass_the_rule_and_differ():
    first, second = generate_key(), generate_key()
    assert weakness(first) is None and weakness(second) is None and first != second


def test_a_key_may_be_given_as_its_sha256_so_config_holds_no_usable_key():
    hashed = hashlib.sha256(OPS.encode()).hexdigest()
    keys = ApiKeys.parse(f"sha256:{hashed}:manager@Ann")
    identity = keys.identify(OPS)
    assert (identity.role, identity.person) == (Role.MANAGER, "Ann")
    assert keys.identify(f"sha256:{hashed}") is None  # the hash itself is not a key


@pytest.mark.parametrize("entry", ["sha256:abcd:admin", f"sha256:{'g' * 64}:admin"])
def test_a_malformed_hash_is_refused_with_the_format(entry):
    with pytest.raises(ValueError, match="64 hex digits"):
        ApiKeys.parse(entry)


@pytest.mark.parametrize("entry", [OPS, ":admin", "   :viewer"])
def test_an_entry_without_a_key_or_role_is_refused_by_position_not_by_content(entry):
    with pytest.raises(ValueError) as refused:
        ApiKeys.parse(f"{WALL}:viewer,{entry}")
    assert "CLOSEDLOOP_API_KEYS entry 2" in str(refused.value)
    assert OPS not in str(refused.value)


@pytest.mark.parametrize("role", ["root", "", "Admin"])
def test_an_unknown_role_is_refused_listing_the_known_ones(role):
    with pytest.raises(ValueError) as refused:
        ApiKeys.parse(f"{OPS}:{role}")
    assert str(refused.value) == (f"CLOSEDLOOP_API_KEYS entry 1: role {role!r} is not one of "
                                  "viewer, responder, manager, admin, ingest")


def test_only_digests_are_kept_and_no_repr_shows_a_key():
    keys = ApiKeys.parse(f"{OPS}:admin@Ann")
    assert [entry.digest for entry in keys.entries] == [hashlib.sha256(OPS.encode()).digest()]
    settings = ServiceSettings(api_keys=f"{OPS}:admin@Ann")
    assert OPS not in repr(settings) and OPS not in repr(keys)
    assert "admin@Ann" in repr(keys)


def test_a_presented_key_maps_to_its_role_only_when_it_matches_exactly():
    keys = ApiKeys.parse(f"{OPS}:admin,{WALL}:viewer")
    assert role_of(keys, OPS) is Role.ADMIN and role_of(keys, WALL) is Role.VIEWER
    assert role_of(keys, OPS[:-1]) is None  # a prefix is not the key
    assert role_of(keys, OPS + " ") is None
    assert role_of(keys, "") is None


def test_roles_rank_from_viewer_to_admin_and_ingest_is_on_no_rung():
    assert [r.rank for r in (Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.ADMIN)] == [0, 1, 2, 3]
    assert Role.INGEST.rank == -1


def test_settings_read_api_keys_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLOSEDLOOP_API_KEYS", f"{OPS}:admin, {WALL}:viewer")
    keys = ServiceSettings().api_keys
    assert (role_of(keys, OPS), role_of(keys, WALL)) == (Role.ADMIN, Role.VIEWER)


# -- require() on real FastAPI routes ---------------------------------------------------------

def routes() -> FastAPI:
    app = FastAPI()
    app.state.api_keys = ApiKeys.parse(
        f"{VIEW}:viewer,{RESP}:responder,{MGR}:manager,{ADM}:admin,{FEED}:ingest")

    @app.post("/incidents/ack", dependencies=[Depends(require(Role.RESPONDER))])
    def acknowledge(request: Request) -> dict:
        return {"by": caller(request)}

    @app.post("/samples", dependencies=[Depends(require(Role.INGEST))])
    def samples() -> dict:
        return {"ok": True}

    @app.get("/incidents", dependencies=[Depends(require(Role.VIEWER))])
    def incidents() -> dict:
        return {"ok": True}

    return app


async def call(method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=routes())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.request(method, path, headers=headers or {})


async def test_a_missing_key_is_401_and_says_where_to_send_one():
    response = await call("POST", "/incidents/ack")
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_unknown_key_is_401():
    response = await call("POST", "/incidents/ack", {"X-API-Key": "guess-9f8e7d6c5b4a"})
    assert (response.status_code, response.json()["detail"]) == (401, "unknown API key")


async def test_a_weaker_role_is_403_naming_both_roles():
    response = await call("POST", "/incidents/ack", {"X-API-Key": VIEW})
    assert response.status_code == 403
    assert response.json()["detail"] == "this action needs the responder role; your API key has viewer"


@pytest.mark.parametrize("key", [RESP, MGR, ADM])
async def test_the_required_role_or_a_stronger_one_passes(key):
    response = await call("POST", "/incidents/ack", {"X-API-Key": key, "X-Actor": "li.wei"})
    assert (response.status_code, response.json()) == (200, {"by": "li.wei"})


async def test_a_bearer_api_key_works_like_x_api_key_and_the_actor_defaults_to_api():
    response = await call("POST", "/incidents/ack", {"Authorization": f"Bearer {RESP}"})
    assert (response.status_code, response.json()) == (200, {"by": "api"})


async def test_an_ingest_key_sends_data_and_nothing_else_not_even_reads():
    assert (await call("POST", "/samples", {"X-API-Key": FEED})).status_code == 200
    for method, path in (("GET", "/incidents"), ("POST", "/incidents/ack")):
        refused = await call(method, path, {"X-API-Key": FEED})
        assert refused.status_code == 403
        assert refused.json()["detail"].startswith("an ingest-only API key may only send")


async def test_ingest_routes_also_take_responders_and_above_but_not_viewers():
    for key in (RESP, MGR, ADM):
        assert (await call("POST", "/samples", {"X-API-Key": key})).status_code == 200
    viewer = await call("POST", "/samples", {"X-API-Key": VIEW})
    assert viewer.status_code == 403 and "ingest role or responder" in viewer.json()["detail"]


def test_a_route_without_a_declared_role_stops_the_service_from_starting():
    app = FastAPI()

    @app.get("/v1/forgotten")
    def forgotten() -> dict:
        return {}

    with pytest.raises(RuntimeError, match=r"route GET /v1/forgotten declares no role"):
        refuse_undeclared(app.routes)
    [rule] = route_table(app.routes)
    assert (rule.path, rule.requirements) == ("/v1/forgotten", ())


# -- person-bound identities ------------------------------------------------------------------

class Verify(BaseModel):
    verifier: str


def test_a_key_bound_to_a_person_acts_only_as_that_person_and_only_people_verify():
    ann, boss, robot = "k-ann-4c8e1a6f3b9d", "k-boss-7a2d5f9c1e4b", "k-robot-2f6b9e3a8c1d"
    api = FastAPI()
    api.state.api_keys = ApiKeys.parse(f"{ann}:responder@Ann,{boss}:manager@Bo,{robot}:responder")

    @api.post("/record", dependencies=[Depends(require(Role.RESPONDER))])
    def record(body: Verify, request: Request) -> dict:
        return {"as": acting_as(request, body.verifier, "verifier")}

    @api.post("/verify", dependencies=[Depends(require(Role.RESPONDER, person_bound=True))])
    def verify(body: Verify, request: Request) -> dict:
        return {"as": acting_as(request, body.verifier, "verifier", on_behalf=False)}

    client = TestClient(api)
    post = lambda path, key, who: client.post(path, json={"verifier": who}, headers={"X-API-Key": key})
    assert post("/record", ann, "Ann").json() == {"as": "Ann"}
    refused = post("/record", ann, "Cy")
    assert refused.status_code == 403 and "belongs to Ann" in refused.text and "verifier" in refused.text
    assert post("/record", boss, "Cy").json() == {"as": "Cy"}  # a manager records on someone's behalf
    assert post("/record", robot, "Cy").json() == {"as": "Cy"}  # a service key names the actor
    # …but nobody verifies in someone else's name, managers included, and no service key at all.
    assert post("/verify", ann, "Ann").json() == {"as": "Ann"}
    strict = post("/verify", boss, "Cy")
    assert strict.status_code == 403 and "belongs to Bo" in strict.text
    robot_verifies = post("/verify", robot, "Cy")
    assert robot_verifies.status_code == 403
    assert "must be done by a person" in robot_verifies.json()["detail"]


def test_acting_as_alone_refuses_a_service_key_where_a_person_is_needed():
    api = FastAPI()
    api.state.api_keys = ApiKeys.parse(f"{RESP}:responder")

    @api.post("/verify", dependencies=[Depends(require(Role.RESPONDER))])
    def verify(body: Verify, request: Request) -> dict:
        return {"as": acting_as(request, body.verifier, "verifier", on_behalf=False)}

    refused = TestClient(api).post("/verify", json={"verifier": "Cy"}, headers={"X-API-Key": RESP})
    assert refused.status_code == 403 and "a service key cannot act as a verifier" in refused.text


def test_closedloop_serve_refuses_a_placeholder_key_with_the_setting_and_the_fix(monkeypatch, capsys):
    from closedloop.cli import main

    monkeypatch.setenv("CLOSEDLOOP_API_KEYS", "change-me-admin:admin")
    assert main(["serve", "capa"]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("capa: refusing to start: CLOSEDLOOP_API_KEYS entry 1 (admin)")
    assert "openssl rand -hex 32" in refused and "change-me-admin" not in refused


def test_the_stack_generates_an_acceptable_admin_key_once_and_refuses_a_weak_one(tmp_path, monkeypatch):
    from closedloop.stack import api_key

    monkeypatch.delenv("CLOSEDLOOP_API_KEY", raising=False)
    first = api_key(tmp_path)
    assert weakness(first) is None and api_key(tmp_path) == first
    assert (tmp_path / "api-key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("CLOSEDLOOP_API_KEY", "secret")
    with pytest.raises(RuntimeError, match="CLOSEDLOOP_API_KEY is shorter than 16 characters"):
        api_key(tmp_path)
