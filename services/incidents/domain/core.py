"""What every use-case base of the incident aggregate shares: the finished states, the guard
against changing a finished incident, and the topics its events were always stored under.

eventsourcing stores each event under "module:Qualname" of the class defining it: an event
moved out of incident.py states its old topic (`stored_as`) or stored incidents stop loading,
and `share_events` makes `Incident.<Name>` the class triggered (docs/adr/incident-modules.md)."""
from __future__ import annotations

from eventsourcing.domain import Aggregate, CanMutateAggregate

from services.incidents.domain.errors import IncidentFinished
from services.incidents.domain.vocabulary import Status

FINISHED = (Status.CLOSED, Status.ARCHIVED)
_STORED_UNDER = "services.incidents.domain.incident:Incident"


def stored_as(name: str) -> str:
    """The topic the event `name` was stored under when Incident defined it."""
    return f"{_STORED_UNDER}.{name}"


class IncidentCore(Aggregate):
    def check_not_finished(self, doing: str) -> None:
        # No annotations on the class: eventsourcing would take them for fields.
        status: Status = self.status  # type: ignore[attr-defined]
        ref: str = self.ref  # type: ignore[attr-defined]
        if status in FINISHED:
            raise IncidentFinished(
                f"incident {ref} cannot {doing}: it is already {status} ({status.label})")


def share_events(aggregate: type[Aggregate]) -> None:
    """eventsourcing gives a subclass its own subclass of every event its bases define, and
    those are never the events triggered. Drop them, so `aggregate.<Name>` is the class of
    the events stored (what projections, timeline and translation look events up by), and
    no second class claims a moved event's stored topic."""
    for name, value in list(vars(aggregate).items()):
        if (name not in ("Event", "Created") and isinstance(value, type)
                and issubclass(value, CanMutateAggregate)
                and any(hasattr(base, name) for base in aggregate.__bases__)):
            delattr(aggregate, name)
