"""The CAPA case carries a resolved incident on: opened, root cause and actions recorded
(方案制定中 → 执行中 → 验证中), actions verified, and finally the incident closed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import FINISHED, IncidentCore, stored_as
from services.incidents.domain.vocabulary import Status


class IncidentCapa(IncidentCore):
    def record_capa_opened(self, capa_id: str, title: str, at: datetime, actor: str,
                           cause: dict[str, Any]) -> None:
        if self.capa_id == capa_id or self.status in FINISHED:
            return
        self._capa_opened(capa_id=capa_id, title=title,
                          status=str(self.status.at_least(Status.PLANNING)),
                          at=at, actor=actor, cause=cause)

    @event("CapaOpened", topic=stored_as("CapaOpened"))
    def _capa_opened(self, capa_id: str, title: str, status: str, at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        self.capa_id = capa_id
        self.status = Status(status)

    def record_capa_step(self, key: str, step: str, detail: dict[str, Any],
                         status: Status | None, at: datetime, actor: str,
                         cause: dict[str, Any]) -> None:
        """Root cause found, action planned, action done: each recorded once (by key); the
        status only moves forward (方案制定中 → 执行中 → 验证中)."""
        if key in self.capa_steps or self.status in FINISHED:
            return
        moved = self.status if status is None else self.status.at_least(status)
        self._capa_step(key=key, step=step, detail=detail, status=str(moved), at=at,
                        actor=actor, cause=cause)

    @event("CapaStepRecorded", topic=stored_as("CapaStepRecorded"))
    def _capa_step(self, key: str, step: str, detail: dict[str, Any], status: str, at: datetime,
                   actor: str, cause: dict[str, Any]) -> None:
        self.capa_steps.append(key)
        self.status = Status(status)

    def record_action_verified(self, capa_id: str, action_id: str, kind: str, owner: str,
                               verifier: str, at: datetime, actor: str,
                               cause: dict[str, Any]) -> None:
        if action_id in self.verified_action_ids or self.status in FINISHED:
            return
        self._action_verified(capa_id=capa_id, action_id=action_id, kind=kind, owner=owner,
                              verifier=verifier,
                              status=str(self.status.at_least(Status.VERIFYING)),
                              at=at, actor=actor, cause=cause)

    @event("ActionVerified", topic=stored_as("ActionVerified"))
    def _action_verified(self, capa_id: str, action_id: str, kind: str, owner: str,
                         verifier: str, status: str, at: datetime, actor: str,
                         cause: dict[str, Any]) -> None:
        self.verified_action_ids.append(action_id)
        self.capa_id = self.capa_id or capa_id
        self.status = Status(status)

    def close(self, capa_id: str, root_cause: str, actions: int, at: datetime, actor: str,
              cause: dict[str, Any]) -> None:
        """The CAPA case closed: every action verified by someone other than its owner."""
        if self.status in FINISHED:
            return
        self._close(ref=self.ref, capa_id=capa_id, root_cause=root_cause, actions=actions,
                    at=at, actor=actor, cause=cause)

    @event("Closed", topic=stored_as("Closed"))
    def _close(self, ref: str, capa_id: str | None, root_cause: str, actions: int, at: datetime,
               actor: str, cause: dict[str, Any], path: str = "capa", note: str = "",
               by: str | None = None) -> None:
        """`path`: how it closed — "capa" (its case closed), or without one (closing.py):
        "false_positive", "optional" (a person's `note`), "observe" (the window ended)."""
        self.capa_id = self.capa_id or capa_id
        self.root_cause, self.closed_at = root_cause, at
        self.closing_path, self.closing_note, self.closed_by = path, note, by
        self.status = Status.CLOSED
