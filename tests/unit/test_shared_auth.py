"""API keys: parsing `key:role,key:role`, role ranks, and the `require` dependency."""
from __future__ import annotations

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel

from shared.auth import ApiKeys, Role, caller, require


def test_keys_and_roles_are_parsed_from_a_comma_separated_list():
    keys = ApiKeys.parse("ops-7f3a:admin,store-lead-2b:responder,wallboard-9c:viewer")
    assert keys == {"ops-7f3a": Role.ADMIN, "store-lead-2b": Role.RESPONDER,
                    "wallboard-9c": Role.VIEWER}


def test_spaces_empty_entries_and_an_empty_string_are_tolerated():
    assert ApiKeys.parse(" ops-7f3a:admin , ,mgr-1:manager ,") == {
        "ops-7f3a": Role.ADMIN, "mgr-1": Role.MANAGER}
    assert ApiKeys.parse("") == {}


def test_a_key_may_itself_contain_colons_because_the_role_is_after_the_last_one():
    assert ApiKeys.parse("sha256:ab:cd:manager") == {"sha256:ab:cd": Role.MANAGER}


@pytest.mark.parametrize("entry", ["ops-7f3a", ":admin", "   :viewer"])
def test_an_entry_without_a_key_is_refused_and_named(entry):
    with pytest.raises(ValueError, match=f"api key entry '{entry.strip()}' must look like key:role"):
        ApiKeys.parse(f"good:viewer,{entry}")


@pytest.mark.parametrize("role", ["root", "", "Admin"])
def test_an_unknown_role_is_refused_listing_the_known_ones(role):
    with pytest.raises(ValueError) as refused:
        ApiKeys.parse(f"ops-7f3a:{role}")
    assert str(refused.value) == (
        f"api key role {role!r} is not one of viewer, responder, manager, admin")


def test_a_presented_key_maps_to_its_role_only_when_it_matches_exactly():
    keys = ApiKeys.parse("ops-7f3a:admin,wallboard-9c:viewer")
    assert keys.role_of("ops-7f3a") is Role.ADMIN
    assert keys.role_of("wallboard-9c") is Role.VIEWER
    assert keys.role_of("ops-7f3") is None  # a prefix is not the key
    assert keys.role_of("ops-7f3a ") is None
    assert keys.role_of("") is None


def test_roles_rank_from_viewer_to_admin():
    assert [r.rank for r in (Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.ADMIN)] == [0, 1, 2, 3]
    assert Role.ADMIN.rank > Role.MANAGER.rank > Role.RESPONDER.rank > Role.VIEWER.rank
    assert sorted(Role, key=lambda r: r.rank) == list(Role)


# -- require() on a real FastAPI route ------------------------------------------------------

def responder_route() -> FastAPI:
    app = FastAPI()
    app.state.api_keys = ApiKeys.parse("view-1:viewer,resp-1:responder,mgr-1:manager,adm-1:admin")

    @app.post("/incidents/ack", dependencies=[Depends(require(Role.RESPONDER))])
    def acknowledge(request: Request) -> dict:
        return {"by": caller(request)}

    return app


async def acknowledge(headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=responder_route())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.post("/incidents/ack", headers=headers or {})


async def test_a_missing_key_is_401_and_says_where_to_send_one():
    response = await acknowledge()
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_unknown_key_is_401():
    response = await acknowledge({"X-API-Key": "guess"})
    assert (response.status_code, response.json()["detail"]) == (401, "unknown API key")


async def test_a_weaker_role_is_403_naming_both_roles():
    response = await acknowledge({"X-API-Key": "view-1"})
    assert response.status_code == 403
    assert response.json()["detail"] == "this action needs the responder role; your key has viewer"


@pytest.mark.parametrize("key", ["resp-1", "mgr-1", "adm-1"])
async def test_the_required_role_or_a_stronger_one_passes(key):
    response = await acknowledge({"X-API-Key": key, "X-Actor": "li.wei"})
    assert (response.status_code, response.json()) == (200, {"by": "li.wei"})


async def test_a_bearer_token_works_like_an_api_key_and_the_actor_defaults_to_api():
    response = await acknowledge({"Authorization": "Bearer resp-1"})
    assert (response.status_code, response.json()) == (200, {"by": "api"})


def test_settings_read_api_keys_from_the_environment(monkeypatch):
    from shared.settings import ServiceSettings

    monkeypatch.setenv("CLOSEDLOOP_API_KEYS", "k1:admin, k2:viewer")
    assert ServiceSettings().api_keys == {"k1": "admin", "k2": "viewer"}


class Verify(BaseModel):
    verifier: str


def test_a_key_bound_to_a_person_acts_only_as_that_person():
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient
    from shared.auth import ApiKeys, Role, acting_as, require

    api = FastAPI()
    api.state.api_keys = ApiKeys.parse("k-ann:responder@Ann,k-boss:manager@Bo,k-robot:responder")

    @api.post("/verify", dependencies=[Depends(require(Role.RESPONDER))])
    def verify(body: Verify, request: Request) -> dict:
        return {"as": acting_as(request, body.verifier, "verifier")}

    @api.post("/verify-strict", dependencies=[Depends(require(Role.RESPONDER))])
    def verify_strict(body: Verify, request: Request) -> dict:
        return {"as": acting_as(request, body.verifier, "verifier", on_behalf=False)}

    client = TestClient(api)
    post = lambda key, who: client.post("/verify", json={"verifier": who}, headers={"X-API-Key": key})
    assert post("k-ann", "Ann").json() == {"as": "Ann"}
    refused = post("k-ann", "Cy")
    assert refused.status_code == 403 and "belongs to Ann" in refused.text and "verifier" in refused.text
    assert post("k-boss", "Cy").json() == {"as": "Cy"}  # a manager records work on someone's behalf
    assert post("k-robot", "Cy").json() == {"as": "Cy"}  # a service account names the actor
    # …but nobody verifies in someone else's name, managers included.
    strict = client.post("/verify-strict", json={"verifier": "Cy"}, headers={"X-API-Key": "k-boss"})
    assert strict.status_code == 403 and "belongs to Bo" in strict.text
