"""Acknowledging, mixed into IncidentsApplication: by hand through the API, or by the person
paged opening their page's one-click link (the read is recorded either way)."""
from __future__ import annotations

from typing import Any

from shared.ack_links import AckClaims

from services.incidents.queries import state_of


class Acknowledging:
    """Needs the application's clock, save, retry_on_conflict, _change and _incident."""

    def acknowledge(self, id_or_ref: str, by: str, note: str, cause: dict[str, Any]) -> dict:
        return self._change(  # type: ignore[attr-defined]
            id_or_ref, lambda i, at: i.acknowledge(by, note, at, by, cause))

    def read_page(self, link: AckClaims, cause: dict[str, Any]) -> dict[str, Any]:
        """The person paged opened their one-click link (verified by the route): the read is
        recorded, and acknowledges as them when the incident still wants it. A link used
        before is refused (LinkAlreadyUsed) and changes nothing."""
        def attempt() -> dict[str, Any]:
            incident = self._incident(link.incident_id)  # type: ignore[attr-defined]
            acknowledged = incident.read_page(link.link_id, link.person, link.delivery_id,
                                              self.clock.now(),  # type: ignore[attr-defined]
                                              cause)
            self.save(incident)  # type: ignore[attr-defined]
            return {"incident": state_of(incident), "acknowledged": acknowledged}

        return self.retry_on_conflict(attempt)  # type: ignore[attr-defined]

    def page_link(self, link: AckClaims) -> dict[str, Any]:
        """What a link's confirmation page shows: the incident, and when the link was used."""
        incident = self._incident(link.incident_id)  # type: ignore[attr-defined]
        return {"incident": state_of(incident), "used_at": incident.used_links.get(link.link_id)}
