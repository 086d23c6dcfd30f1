"""OIDC / JWT bearer tokens (PyJWT): the signature checked against the provider's JWKS or a
configured public key, issuer and audience required, claims mapped to roles and a person."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import HTTPException

from shared.auth.roles import Identity, Role

LEEWAY = timedelta(seconds=30)  # clock skew tolerated between the provider and us


def parse_role_map(text: str) -> dict[str, Role]:
    """`claim-value:role,…`, e.g. `sre-oncall:responder,alertmanager:ingest`."""
    mapping = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        value, _, role = item.rpartition(":")
        if not value:
            raise ValueError(f"CLOSEDLOOP_OIDC_ROLE_MAP entry {item!r} must look like value:role")
        try:
            mapping[value] = Role(role.strip())
        except ValueError:
            raise ValueError(f"CLOSEDLOOP_OIDC_ROLE_MAP: role {role!r} is not one of "
                             f"{', '.join(Role)}") from None
    return mapping


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


class TokenVerifier:
    """Turns a bearer token into an Identity or a 401 that says what was wrong with it.
    Expiry is checked against the service's clock, like every other deadline."""

    def __init__(self, *, issuer: str, audience: str, algorithms: Iterable[str],
                 person_claim: str, roles_claim: str, role_map: Mapping[str, Role],
                 now: Callable[[], datetime], jwks_url: str = "", public_key: str = "") -> None:
        self.issuer, self.audience, self.algorithms = issuer, audience, list(algorithms)
        self.person_claim, self.roles_claim = person_claim, roles_claim
        # Without a map, claim values that are role names ("responder") grant that role.
        self.role_map = dict(role_map) or {role.value: role for role in Role}
        self.now = now
        self.public_key = public_key
        # PyJWT (and cryptography's public-key code under it, ~10 MiB per process) is imported
        # only by a service configured for tokens.
        import jwt

        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=5) if jwks_url else None

    def identify(self, token: str) -> Identity:
        claims = self._verified_claims(token)
        values = _claim(claims, self.roles_claim)
        values = values.split() if isinstance(values, str) else values or []
        roles = frozenset(self.role_map[v] for v in values
                          if isinstance(v, str) and v in self.role_map)
        if not roles:
            known = ", ".join(sorted(self.role_map))
            raise HTTPException(403, "the token carries no closedloop role: its "
                                f"{self.roles_claim!r} claim has none of {known}; map your "
                                "groups with CLOSEDLOOP_OIDC_ROLE_MAP")
        person = _claim(claims, self.person_claim)
        return Identity(roles, person if isinstance(person, str) and person else None, "token")

    def _verified_claims(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            key = self.jwks.get_signing_key_from_jwt(token).key if self.jwks else self.public_key
            claims = jwt.decode(token, key, algorithms=self.algorithms, audience=self.audience,
                                issuer=self.issuer,
                                options={"require": ["exp", "iss", "aud"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False})
        except jwt.PyJWKClientConnectionError as error:
            raise HTTPException(503, f"cannot fetch the identity provider's keys: {error}"
                                ) from None
        except jwt.PyJWKClientError:
            raise _rejected("it is signed with a key the identity provider does not list (kid)")
        except jwt.InvalidAudienceError:
            raise _rejected(f"its audience is not {self.audience!r}")
        except jwt.InvalidIssuerError:
            raise _rejected(f"its issuer is not {self.issuer!r}")
        except jwt.MissingRequiredClaimError as error:
            raise _rejected(f"it has no {error.claim!r} claim")
        except jwt.PyJWTError as error:
            raise _rejected(f"it is not valid ({error})")
        now = self.now()
        if _at(claims["exp"]) + LEEWAY <= now:
            raise _rejected(f"it expired at {_at(claims['exp']).isoformat()}")
        if "nbf" in claims and _at(claims["nbf"]) - LEEWAY > now:
            raise _rejected(f"it is not valid before {_at(claims['nbf']).isoformat()}")
        return claims


def _rejected(why: str) -> HTTPException:
    return HTTPException(401, f"bearer token refused: {why}",
                         headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _at(timestamp: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(timestamp), timezone.utc)
    except (TypeError, ValueError, OverflowError):
        raise _rejected("its exp/nbf is not a number of seconds") from None


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by dotted path, so `realm_access.roles` (Keycloak) works as well as `roles`."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value
