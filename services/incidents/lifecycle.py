"""The people's lifecycle commands, mixed into IncidentsApplication: declare an incident by
hand (its reporter follows it), change its severity, reopen it, post progress, follow and
unfollow. Each is get → call → save; the notifier tells those who should know. Progress
updates are posted through the cadence (progress_cadence.py)."""
from __future__ import annotations

from typing import Any
from uuid import uuid4

from shared.store import Numbered

from services.incidents.domain import Incident, Severity, format_ref, ref_scope


class LifecycleCommands:
    """Needs the application's clock, save, next_number, _numbered_before, _change and
    incident."""

    def declare(self, severity: Severity, title: str, entity: str, summary: str,
                reporter: str, cause: dict[str, Any], drill: bool = False,
                intake: dict[str, Any] | None = None) -> dict[str, Any]:
        """An incident nobody's alert raised: someone saw it and reports it. The reporter is
        its requester: recorded on the opening, and following it from the start. `drill`:
        an exercise, shown as such and kept out of every KPI."""
        def attempt() -> dict[str, Any]:
            at, key = self.clock.now(), uuid4().hex  # type: ignore[attr-defined]
            scope = ref_scope(severity, at)
            number = self.next_number(  # type: ignore[attr-defined]
                scope, floor=self._numbered_before(scope))  # type: ignore[attr-defined]
            alert = {"alert_id": f"manual-{key}", "name": title, "summary": summary,
                     "source": "manual", "reporter": reporter, "started_at": at.isoformat(),
                     **({"drill": True} if drill else {})}
            if intake is not None:  # source, report, classification (intake/intake.py)
                alert["intake"] = intake
            incident = Incident.open(
                fingerprint=f"manual:{key}", occurrence=1, ref=format_ref(severity, at, number),
                severity=severity, title=title, entity=entity, alert=alert, at=at,
                actor=reporter, cause=cause,
                clocks=self.sla_clocks(  # type: ignore[attr-defined]
                    severity, (intake or {}).get("problem_type"), at))
            incident.follow(reporter, reporter, at, cause, via="reporter")
            self.expect_update(incident, at, "opened", at, cause)  # type: ignore[attr-defined]
            self.save_tracked(incident, tracking=None,  # type: ignore[attr-defined]
                              numbers=(Numbered(scope, number, incident.id),))
            return self.incident(str(incident.id))  # type: ignore[attr-defined]

        return self.retry_on_conflict(attempt)  # type: ignore[attr-defined]

    def change_severity(self, id_or_ref: str, severity: Severity, reason: str, by: str,
                        cause: dict[str, Any], manager: bool = True) -> dict[str, Any]:
        """`manager`: whether the caller may lower the severity (grading.py)."""
        def command(incident: Incident, at: Any) -> None:
            incident.check_not_finished("change severity")
            incident.check_may_regrade(severity, manager)
            incident.change_severity(severity, reason, by, at, cause, self.sla_clocks(  # type: ignore[attr-defined]
                severity, incident.sla_type, incident.opened_at))
            self.recadence(incident, at, cause)  # type: ignore[attr-defined]

        return self._change(id_or_ref, command)  # type: ignore[attr-defined]

    def reopen(self, id_or_ref: str, reason: str, by: str,
               cause: dict[str, Any]) -> dict[str, Any]:
        def command(incident: Incident, at: Any) -> None:
            incident.reopen(reason, by, at, cause, self.sla_clocks(  # type: ignore[attr-defined]
                incident.severity, incident.sla_type, at, kinds=("resolve",)))
            self.expect_update(incident, at, "reopened", at, cause)  # type: ignore[attr-defined]

        return self._change(id_or_ref, command)  # type: ignore[attr-defined]

    def follow(self, id_or_ref: str, person: str, by: str,
               cause: dict[str, Any]) -> dict[str, Any]:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.follow(person, by, at, cause))

    def unfollow(self, id_or_ref: str, person: str, by: str,
                 cause: dict[str, Any]) -> dict[str, Any]:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.unfollow(person, by, at, cause))
