"""Who is responsible, accountable, consulted and informed: assigned by hand, or staffed
once from the RACI matrix the notifier resolved against the organisation."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import IncidentCore, stored_as
from services.incidents.domain.vocabulary import RaciRole


class IncidentRaci(IncidentCore):
    def assign(self, role: RaciRole, person: str, at: datetime, actor: str,
               cause: dict[str, Any]) -> None:
        self.check_not_finished(f"change who is {role}")
        if person not in self.raci[role]:
            self._role_assigned(role=str(role), person=person, at=at, actor=actor, cause=cause,
                                ref=self.ref)

    def staff(self, raci: dict[str, list[str]], unresolved: list[str], at: datetime,
              actor: str, cause: dict[str, Any], unit_path: list[dict[str, str]] | None = None
              ) -> None:
        """The RACI matrix's people for this incident (the notifier resolves them against
        the organisation). A role someone was already given, by hand or by acknowledging,
        keeps them; staffing arrives once. `unit_path`: the organisation's units from the
        root down to the entity's (the board shows and filters by them)."""
        if self.staffed:
            return
        given = {role: people for role, people in raci.items()
                 if people and not self.raci[RaciRole(role)]}
        kept = [role for role, people in raci.items() if people and role not in given]
        self._staffed(raci=given, kept=kept, unresolved=unresolved, at=at, actor=actor,
                      cause=cause, **({"unit_path": unit_path} if unit_path else {}))

    @event("Staffed", topic=stored_as("Staffed"))
    def _staffed(self, raci: dict[str, list[str]], kept: list[str], unresolved: list[str],
                 at: datetime, actor: str, cause: dict[str, Any],
                 unit_path: list[dict[str, str]] | None = None) -> None:
        for role, people in raci.items():
            self.raci[RaciRole(role)] = list(people)
        self.staffed = True

    @event("RoleAssigned", topic=stored_as("RoleAssigned"))
    def _role_assigned(self, role: str, person: str, at: datetime, actor: str,
                       cause: dict[str, Any], via: str = "hand", ref: str | None = None) -> None:
        role = RaciRole(role)
        self.raci[role] = [person] if role.single else [*self.raci[role], person]
