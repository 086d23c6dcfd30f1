"""Roles and who holds them: the viewer < responder < manager < admin ladder, and the
ingest role beside it for machine senders."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    RESPONDER = "responder"
    MANAGER = "manager"
    ADMIN = "admin"
    # Outside the ladder: may only send data in (samples, external alerts), not even read.
    INGEST = "ingest"

    @property
    def rank(self) -> int:
        """Place on the ladder; -1 for ingest, which is on no rung."""
        return LADDER.index(self) if self in LADDER else -1


LADDER = (Role.VIEWER, Role.RESPONDER, Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True)
class Identity:
    """Who is calling: the roles their credential carries and, when it is bound to one, the
    person. Without a person it is a service identity that may not verify or approve."""

    roles: frozenset[Role]
    person: str | None
    source: str  # "API key" or "token": said in refusals so the caller knows what to fix

    @property
    def role(self) -> Role:
        """The strongest role held (ingest only when it is the only one)."""
        return max(self.roles, key=lambda r: r.rank)

    def satisfies(self, minimum: Role) -> bool:
        if minimum is Role.INGEST:  # ingest routes also take the people who handle alerts
            return Role.INGEST in self.roles or self.role.rank >= Role.RESPONDER.rank
        return self.role.rank >= minimum.rank
