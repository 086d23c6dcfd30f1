"""Re-grading: an incident is as severe as its worst alert, so a worse alert joining it raises
it (SeverityChanged with the alert as the reason); people re-grade by hand, and lowering a
severity takes a manager (the API checks the role, this module names the rule)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.incidents.domain.core import IncidentCore
from services.incidents.domain.errors import DowngradeNeedsManager
from services.incidents.domain.sla import SlaClocks
from services.incidents.domain.vocabulary import SLA, Severity

_ORDER = tuple(Severity)  # P0 first: the most urgent


def more_urgent(severity: Severity | str, than: Severity | str) -> bool:
    return _ORDER.index(Severity(severity)) < _ORDER.index(Severity(than))


class IncidentGrading(IncidentCore):
    def grade_by_alert(self, fingerprint: str, severity: Severity, at: datetime, actor: str,
                       cause: dict[str, Any], clocks: SlaClocks | None = None) -> bool:
        """Raise the incident to an alert's severity when that is worse (never lower it: an
        alert clearing does not make the rest less serious). The new severity's deadlines
        count from when the worse alert fired, but never later than the ones it had.
        `clocks`: the new severity's deadlines from the SLA policy, counted from `at` (the
        shipped defaults without)."""
        if not more_urgent(severity, self.severity):  # type: ignore[attr-defined]
            return False
        if clocks is None:
            sla = SLA[severity]
            clocks = SlaClocks(at + sla.respond, at + sla.resolve)
        self._severity_changed(  # type: ignore[attr-defined]  (lifecycle.py)
            ref=self.ref, severity=str(severity), previous=str(self.severity),  # type: ignore[attr-defined]
            reason=f"alert:{fingerprint} fired at {severity}", by=actor,
            respond_by=min(self.respond_by, clocks.respond_by),  # type: ignore[attr-defined]
            resolve_by=min(self.resolve_by, clocks.resolve_by),  # type: ignore[attr-defined]
            acknowledged=self.in_hand, status=str(self.status),  # type: ignore[attr-defined]
            at=at, actor=actor, cause=cause)
        return True

    def check_may_regrade(self, severity: Severity, manager: bool) -> None:
        """Lowering a severity shortens nobody's work but lengthens every deadline: only a
        manager may, so a responder cannot quietly take pressure off an incident."""
        if not manager and more_urgent(self.severity, severity):  # type: ignore[attr-defined]
            raise DowngradeNeedsManager(
                f"incident {self.ref} cannot be lowered from {self.severity} to {severity} "  # type: ignore[attr-defined]
                "by a responder: lowering a severity needs the manager role (raising it does "
                "not)")
