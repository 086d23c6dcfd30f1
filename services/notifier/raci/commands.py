"""The RACI commands, mixed into NotifierApplication: the rules are defined; an opening is
staffed; R, A, I, reporter and followers hear of the lifecycle (lifecycle.py); deadlines are met by the incident's
and the CAPA case's progress. The chase itself is in chase.py."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from services.notifier.raci.assignment import Assignments
from services.notifier.raci.capa import CapaDeadlines
from services.notifier.raci.chase import Chasing
from services.notifier.raci.checklists import ChecklistDeadlines
from services.notifier.raci.deadline import Deadline, MetEarly, deadline_id
from services.notifier.raci.followers import Following
from services.notifier.raci.incident_chases import IncidentChases
from services.notifier.raci.lifecycle import ACKNOWLEDGED, CLOSED, RESOLVED, LifecycleMessages
from services.notifier.raci.opening import OpeningPlan, StaffedOpening, plan_opening
from services.notifier.raci.progress import ProgressDeadlines
from services.notifier.raci.restaffing import Restaffing
from services.notifier.raci.rules import RACI_RULES_ID, RaciRules, normalised
from services.notifier.raci.stages import StageDeadlines
from services.notifier.raci.sla_warnings import SlaWarnings
from services.notifier.raci.systemic import SystemicReports
from services.notifier.raci.staffing import Staffing
from services.notifier.raci.views import rules_view, staffing_view
from shared.causation import from_message
from shared.contracts import (
    CloudEvent, IncidentAcknowledged, IncidentClosed, IncidentOpened, IncidentResolved,
)
from shared.errors import NotFound

log = logging.getLogger(__name__)


class StaffingNotFound(NotFound):
    pass


class RaciCommands(LifecycleMessages, IncidentChases, Restaffing, Following, StageDeadlines,
                   CapaDeadlines, Chasing, Assignments, SystemicReports, SlaWarnings,
                   ChecklistDeadlines, ProgressDeadlines):
    """Mixed into NotifierApplication (get_or_none, save, clock, reads, config_cache,
    org_chart, _schedule, _claim_at_once)."""

    # -- rules ----------------------------------------------------------------------------
    def define_raci(self, *, matrix: dict, deadlines: dict | None, actor: str,
                    cause: dict) -> dict:
        matrix, deadlines = normalised(matrix, deadlines)
        at, stored = self.clock.now(), self.raci_rules_stored()
        if stored is None:
            stored = RaciRules(matrix=matrix, deadlines=deadlines, at=at, actor=actor,
                               cause=cause)
        else:
            stored.revise(matrix, deadlines, at, actor, cause)
        self.save(stored)
        return rules_view(stored)

    def raci_rules(self) -> dict:
        return rules_view(self.raci_rules_stored())

    def raci_rules_stored(self) -> RaciRules | None:
        found = self.get_or_none(RACI_RULES_ID)
        return found if isinstance(found, RaciRules) else None

    def staffing_of(self, incident_id: str) -> dict:
        staffing = self.get_or_none(Staffing.create_id(incident_id))
        if not isinstance(staffing, Staffing):
            raise StaffingNotFound(f"incident {incident_id} was not staffed (no matrix row "
                                   "for its severity and nobody given a letter by hand, "
                                   "or unknown here)")
        return staffing_view(staffing)

    def raci_staffed(self, incident_id: str) -> StaffedOpening:
        """The people staffed when the incident opened, to be told now (a hold released):
        nothing when no matrix row staffed it."""
        staffing = self.get_or_none(Staffing.create_id(incident_id))
        if not isinstance(staffing, Staffing):
            return StaffedOpening()
        return StaffedOpening(staffing, [], self.org_chart())

    def raci_deadlines_from(self, incident_id: str, sla: dict[str, float], at: datetime,
                            actor: str, cause: dict) -> list[Deadline]:
        """A held incident's respond, resolve and checklist deadlines, set when its hold is
        released: it has from then the time it had from its opening (nobody was told
        meanwhile); its progress chase, held meanwhile, runs on."""
        staffing = self.get_or_none(Staffing.create_id(incident_id))
        if not isinstance(staffing, Staffing) or not staffing.matrix:  # no row: not chased
            return []
        settings = self._deadline_settings()
        return [*(staffing.deadline(key=kind, kind=kind, subject=None, started_at=at,
                                    due_at=at + timedelta(seconds=seconds),
                                    responsible=staffing.responsible, settings=settings, at=at,
                                    actor=actor, cause=cause)
                  for kind, seconds in sla.items() if not self._started(incident_id, kind)),
                *self._checklist_released(staffing, settings, at, actor, cause),
                *self._progress_released(incident_id, at, actor, cause)]

    # -- the incident's lifecycle -----------------------------------------------------------
    def raci_opening(self, contract: IncidentOpened, incident: dict[str, str], at: datetime,
                     cause: dict) -> OpeningPlan:
        return OpeningPlan(lambda rules: plan_opening(
            rules, self.org_chart, incident, getattr(contract, "labels", None),
            contract.respond_by, contract.resolve_by, contract.opened_at, at, "notifier",
            cause))

    def raci_on_acknowledged(self, contract: IncidentAcknowledged,
                             envelope: CloudEvent) -> list[Any]:
        met = self._meet(contract.incident_id, ["respond"], f"acknowledged by {contract.by}",
                         envelope)
        return [*met, *self.tell_lifecycle(contract.incident_id, ACKNOWLEDGED, contract.at,
                                           contract.by, envelope, about={"by": contract.by})]

    def raci_on_resolved(self, contract: IncidentResolved, envelope: CloudEvent) -> list[Any]:
        met = self._meet(contract.incident_id, ["respond", "resolve"],
                         f"resolved by {contract.by}", envelope)
        met += self._progress_over(contract.incident_id, f"resolved by {contract.by}",
                                   envelope)
        entered = self._enter_stage(contract.incident_id, contract.status, contract.at, None,
                                    envelope)
        return [*met, *entered, *self.tell_lifecycle(
            contract.incident_id, RESOLVED, contract.at, contract.by, envelope,
            about={"by": contract.by, "summary": contract.summary})]

    def raci_on_closed(self, contract: IncidentClosed, envelope: CloudEvent) -> list[Any]:
        met = self._meet(contract.incident_id, ["respond", "resolve"], "closed", envelope)
        met += self._stages_over(contract.incident_id, "closed", envelope)
        met += self._checklist_over(contract.incident_id, "closed", envelope)
        met += self._progress_over(contract.incident_id, "closed", envelope)
        return [*met, *self.tell_lifecycle(contract.incident_id, CLOSED, contract.at, None,
                                           envelope, about={"capa_id": contract.capa_id})]

    def _meet(self, incident_id: str, keys: list[str], why: str, envelope: CloudEvent,
              early: bool = True) -> list[Any]:
        """Deadlines met; one not set yet (its start still on its way) is recorded as met
        early when `early`, so that the start does not chase anyone. Without rules nothing
        is kept."""
        at, cause = self.clock.now(), from_message(envelope)
        changed: list[Any] = []
        ids = [deadline_id(incident_id, k) for k in keys]
        if self.in_batch():
            # An earlier message of the batch may have set one of them (an opening and its
            # resolution together): the store does not have it yet, the batch does.
            self.read_ahead(ids, never_snapshotted=True)
            found = {i: a for i in ids if (a := self.get_or_none(i)) is not None}
        else:
            found = self.reads.get_many(ids)
        for key in keys:
            deadline = found.get(deadline_id(incident_id, key))
            if isinstance(deadline, Deadline):
                if deadline.meet(why, at, "notifier", cause):
                    changed.append(deadline)
            elif deadline is None and early and self.raci_rules_stored() is not None:
                changed.append(MetEarly(incident_id=incident_id, key=key, why=why, at=at,
                                        actor="notifier", cause=cause))
        return changed
