"""Someone takes the incident on: an acknowledgement by hand, or by opening a page's one-click
link (a read receipt that acknowledges as them while one is still wanted)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import FINISHED, IncidentCore, stored_as
from services.incidents.domain.errors import AlreadyAcknowledged, LinkAlreadyUsed
from services.incidents.domain.vocabulary import RaciRole, Status


class IncidentAcknowledgement(IncidentCore):
    def acknowledge(self, by: str, note: str, at: datetime, actor: str,
                    cause: dict[str, Any], *, by_person: bool = True) -> None:
        self.check_not_finished("be acknowledged")
        self.check_not_acknowledged()
        self._acknowledge(ref=self.ref, by=by, note=note,
                          status=str(self.status.at_least(Status.INVESTIGATING)),
                          at=at, actor=actor, cause=cause)
        # Who takes it on is responsible until told; an alert source acknowledging (PagerDuty)
        # is nobody to page or to hold responsible.
        if by_person and not self.raci[RaciRole.RESPONSIBLE]:
            self._role_assigned(  # type: ignore[attr-defined]  (raci.py)
                role=str(RaciRole.RESPONSIBLE), person=by, at=at, actor=actor, cause=cause,
                via="acknowledged", ref=self.ref)

    @property
    def can_be_acknowledged(self) -> bool:
        return self.status not in FINISHED and (self.acknowledged_at is None or self.ack_lapsed)

    @event("Acknowledged", topic=stored_as("Acknowledged"))
    def _acknowledge(self, ref: str, by: str, note: str, status: str, at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        if self.acknowledged_at is None:  # the response time is the first acknowledgement's
            self.acknowledged_at, self.acknowledged_by = at, by
        self.ack_lapsed = False
        self.status = Status(status)

    def read_page(self, link_id: str, person: str, delivery_id: str, at: datetime,
                  cause: dict[str, Any]) -> bool:
        """The person paged opened their page's one-click link: a read receipt, recorded even
        when someone acknowledged already, and an acknowledgement as them when one is still
        wanted (True). Each link works once."""
        self.check_link_unused(link_id)
        acknowledges = self.can_be_acknowledged
        self._page_read(ref=self.ref, link_id=link_id, person=person, delivery_id=delivery_id,
                        acknowledged=acknowledges,
                        acknowledged_by=None if acknowledges else self.acknowledged_by,
                        at=at, actor=person, cause=cause)
        if acknowledges:
            self.acknowledge(person, "acknowledged from the page's one-click link", at, person,
                             cause)
        return acknowledges

    @event("PageRead", topic=stored_as("PageRead"))
    def _page_read(self, ref: str, link_id: str, person: str, delivery_id: str,
                   acknowledged: bool, acknowledged_by: str | None, at: datetime, actor: str,
                   cause: dict[str, Any]) -> None:
        self.used_links[link_id] = at

    def check_not_acknowledged(self) -> None:
        if self.acknowledged_at is not None and not self.ack_lapsed:
            raise AlreadyAcknowledged(
                f"incident {self.ref} cannot be acknowledged twice: {self.acknowledged_by} "
                f"acknowledged it at {self.acknowledged_at.isoformat()}")

    def check_link_unused(self, link_id: str) -> None:
        if link_id in self.used_links:
            raise LinkAlreadyUsed(
                f"this acknowledge link for incident {self.ref} was already used at "
                f"{self.used_links[link_id].isoformat()}; each link works once")
