"""OIDC bearer tokens: real RSA keys, a JWKS served over real HTTP, tokens signed with PyJWT;
claims map to roles and a person, and every bad token is a 401 that says why."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from shared.auth import ApiKeys, Role, TokenVerifier, acting_as, caller, parse_role_map, require
from shared.clock import ManualClock
from shared.settings import ServiceSettings

ISSUER, AUDIENCE = "https://id.example.internal/realms/ops", "closedloop"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Jwks:
    """The provider's key set on a real local HTTP server, counting how often it is fetched."""

    def __init__(self, keys: dict[str, rsa.RSAPrivateKey]) -> None:
        self.keys, self.fetches = keys, 0
        body = lambda: json.dumps({"keys": [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())),
             "kid": kid, "use": "sig", "alg": "RS256"} for kid, k in self.keys.items()]}).encode()
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                payload = body()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/certs"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def signing_key():
    return rsa_key()


@pytest.fixture
def jwks(signing_key):
    served = Jwks({"key-1": signing_key})
    yield served
    served.close()


@pytest.fixture
def clock():
    return ManualClock()


class Verify(BaseModel):
    verifier: str


def service(verifier: TokenVerifier) -> TestClient:
    api = FastAPI()
    api.state.api_keys = ApiKeys.parse("svc-resp-8d2f6b1e4a9c:responder")
    api.state.tokens = verifier

    @api.get("/incidents", dependencies=[Depends(require(Role.VIEWER))])
    def incidents(request: Request) -> dict:
        return {"by": caller(request), "role": request.state.role}

    @api.post("/samples", dependencies=[Depends(require(Role.INGEST))])
    def samples(request: Request) -> dict:
        return {"by": caller(request)}

    @api.post("/verify", dependencies=[Depends(require(Role.RESPONDER, person_bound=True))])
    def verify(body: Verify, request: Request) -> dict:
        return {"as": acting_as(request, body.verifier, "verifier", on_behalf=False)}

    return TestClient(api)


def verifier_for(jwks: Jwks, clock: ManualClock, role_map: str = "") -> TokenVerifier:
    settings = ServiceSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE,
                               oidc_jwks_url=jwks.url, oidc_roles_claim="realm_access.roles",
                               oidc_role_map=role_map)
    return settings.token_verifier(clock.now)


def token(key: rsa.RSAPrivateKey, clock: ManualClock, *, kid: str = "key-1", **claims) -> str:
    now = int(clock.now().timestamp())
    body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
            "preferred_username": "li.wei", "realm_access": {"roles": ["sre-oncall"]}, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": kid})


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


MAP = "sre-oncall:responder,sre-leads:manager,alertmanager:ingest"


def test_a_valid_token_maps_its_groups_to_a_role_and_its_username_to_a_person(jwks, signing_key, clock):
    client = service(verifier_for(jwks, clock, MAP))
    response = client.get("/incidents", headers=bearer(token(signing_key, clock)))
    assert (response.status_code, response.json()) == (200, {"by": "li.wei", "role": "responder"})
    both = token(signing_key, clock, realm_access={"roles": ["sre-oncall", "sre-leads", "other"]})
    assert client.get("/incidents", headers=bearer(both)).json()["role"] == "manager"
    assert jwks.fetches == 1  # keys are cached, not fetched per request


def test_a_person_in_the_token_may_verify_and_only_as_themselves(jwks, signing_key, clock):
    client = service(verifier_for(jwks, clock, MAP))
    mine = client.post("/verify", json={"verifier": "li.wei"}, headers=bearer(token(signing_key, clock)))
    assert (mine.status_code, mine.json()) == (200, {"as": "li.wei"})
    other = client.post("/verify", json={"verifier": "chen.jie"}, headers=bearer(token(signing_key, clock)))
    assert other.status_code == 403 and "belongs to li.wei" in other.text


def test_a_machine_token_without_a_person_ingests_but_cannot_verify_or_read(jwks, signing_key, clock):
    client = service(verifier_for(jwks, clock, MAP))
    machine = token(signing_key, clock, preferred_username=None,
                    realm_access={"roles": ["alertmanager"]})
    assert client.post("/samples", headers=bearer(machine)).status_code == 200
    assert client.get("/incidents", headers=bearer(machine)).status_code == 403
    responder_robot = token(signing_key, clock, preferred_username=None)
    refused = client.post("/verify", json={"verifier": "li.wei"}, headers=bearer(responder_robot))
    assert refused.status_code == 403 and "your token is a service identity" in refused.json()["detail"]


def test_without_a_role_map_claim_values_that_are_role_names_grant_those_roles(jwks, signing_key, clock):
    client = service(verifier_for(jwks, clock))
    viewer = token(signing_key, clock, realm_access={"roles": ["viewer", "sre-oncall"]})
    assert client.get("/incidents", headers=bearer(viewer)).json()["role"] == "viewer"
    none = client.get("/incidents", headers=bearer(token(signing_key, clock)))
    assert none.status_code == 403 and "carries no closedloop role" in none.json()["detail"]


@pytest.mark.parametrize("change, reason", [
    (dict(exp_after=-60), "it expired at"),
    (dict(aud="some-other-app"), "its audience is not 'closedloop'"),
    (dict(iss="https://evil.example/"), "its issuer is not"),
    (dict(kid="key-unknown"), "a key the identity provider does not list"),
    (dict(exp=None), "it has no 'exp' claim"),
    (dict(nbf_after=600), "it is not valid before"),
])
def test_a_bad_token_is_401_saying_what_is_wrong(jwks, signing_key, clock, change, reason):
    client = service(verifier_for(jwks, clock, MAP))
    claims = {k: v for k, v in change.items() if k not in ("exp_after", "nbf_after", "kid")}
    now = int(clock.now().timestamp())
    if "exp_after" in change:
        claims["exp"] = now + change["exp_after"]
    if "nbf_after" in change:
        claims["nbf"] = now + change["nbf_after"]
    bad = token(signing_key, clock, kid=change.get("kid", "key-1"), **claims)
    response = client.get("/incidents", headers=bearer(bad))
    assert response.status_code == 401, response.text
    assert reason in response.json()["detail"]


def test_expiry_follows_the_service_clock_with_a_small_leeway(jwks, signing_key, clock):
    client = service(verifier_for(jwks, clock, MAP))
    issued = token(signing_key, clock)  # valid for 300 s
    clock.advance(timedelta(seconds=320))
    assert client.get("/incidents", headers=bearer(issued)).status_code == 200
    clock.advance(timedelta(seconds=20))
    assert client.get("/incidents", headers=bearer(issued)).status_code == 401


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(jwks, clock):
    client = service(verifier_for(jwks, clock, MAP))
    forged = token(rsa_key(), clock)
    response = client.get("/incidents", headers=bearer(forged))
    assert response.status_code == 401 and "not valid" in response.json()["detail"]


def test_api_keys_still_work_beside_tokens(jwks, clock):
    client = service(verifier_for(jwks, clock, MAP))
    assert client.get("/incidents", headers=bearer("svc-resp-8d2f6b1e4a9c")).status_code == 200
    assert client.get("/incidents", headers={"X-API-Key": "svc-resp-8d2f6b1e4a9c"}).status_code == 200


def test_a_static_public_key_serves_air_gapped_installations(signing_key, clock):
    pem = signing_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    settings = ServiceSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE,
                               oidc_public_key=pem.decode(), oidc_roles_claim="realm_access.roles",
                               oidc_role_map=MAP)
    client = service(settings.token_verifier(clock.now))
    assert client.get("/incidents", headers=bearer(token(signing_key, clock))).status_code == 200
    assert client.get("/incidents", headers=bearer(token(rsa_key(), clock))).status_code == 401


def test_an_unreachable_jwks_is_503_not_a_blame_on_the_caller(signing_key, clock):
    down = Jwks({})
    url = down.url
    down.close()
    settings = ServiceSettings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=url)
    client = service(settings.token_verifier(clock.now))
    response = client.get("/incidents", headers=bearer(token(signing_key, clock)))
    assert response.status_code == 503 and "identity provider" in response.json()["detail"]


def test_token_settings_must_name_issuer_and_audience_and_a_valid_role_map():
    with pytest.raises(ValidationError, match="CLOSEDLOOP_OIDC_ISSUER and CLOSEDLOOP_OIDC_AUDIENCE"):
        ServiceSettings(oidc_jwks_url="https://id.example.internal/certs")
    with pytest.raises(ValidationError, match="role 'root' is not one of"):
        ServiceSettings(oidc_role_map="ops:root")
    assert parse_role_map(" a:admin , b:ingest ") == {"a": Role.ADMIN, "b": Role.INGEST}
    assert ServiceSettings().token_verifier(ManualClock().now) is None
