"""What the signed-in person may do, from the role the incidents service named at sign-in
(`GET /v1/whoami`): pages hide what the role may not use. The APIs still decide."""
from __future__ import annotations

from typing import Any

from shared.auth.roles import LADDER, Role


def rank(role: str | None) -> int:
    try:
        return Role(role).rank if role else -1
    except ValueError:
        return -1


def may(session: dict[str, Any], minimum: str) -> bool:
    """The session's role is `minimum` or above on the viewer < responder < manager < admin
    ladder. A session without a role (signed in before roles were read) may only read."""
    return rank(session.get("role") or str(Role.VIEWER)) >= rank(minimum)


ROLES = tuple(str(r) for r in LADDER)
