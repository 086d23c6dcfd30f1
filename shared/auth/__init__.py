"""Authentication and roles: API keys (held hashed) and OIDC tokens map a caller to roles and,
when bound to one, a person; every route declares the role it needs."""
from shared.auth.access import (
    Requirement, RouteRule, acting_as, caller, identify, refuse_undeclared, require, route_table,
)
from shared.auth.keys import ApiKeys, generate_key, weakness
from shared.auth.roles import LADDER, Identity, Role
from shared.auth.tokens import TokenVerifier, parse_role_map

__all__ = ["LADDER", "ApiKeys", "Identity", "Requirement", "Role", "TokenVerifier", "acting_as",
           "RouteRule", "caller", "generate_key", "identify", "parse_role_map", "refuse_undeclared",
           "require", "route_table", "weakness"]
