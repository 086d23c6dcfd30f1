"""`GET /v1/whoami`: who the presented key or token is — its role and, when bound to one,
its person — so a screen can show only what the caller may do (the API still enforces it)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from shared.auth import LADDER, Role, require

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get("/whoami", dependencies=[Depends(require(Role.VIEWER))])
def whoami(request: Request) -> dict[str, Any]:
    """The caller's strongest role, every role it holds, the person it is bound to (null for
    a service identity) and the ladder's roles it may act as (viewer … its role)."""
    identity = request.state.identity
    return {"role": str(identity.role), "roles": sorted(str(r) for r in identity.roles),
            "person": identity.person, "source": identity.source,
            "may": [str(r) for r in LADDER if identity.satisfies(r)]}
