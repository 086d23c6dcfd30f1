"""What every part of the incident aggregate shares: the finished states, the guard against
changing a finished incident, and how events moved out of incident.py keep their topics.

The incident is one aggregate assembled from one base class per use case (alerts.py,
acknowledgement.py, raci.py, …). eventsourcing names an event by the module and class that
define it ("module:Qualname") and stores that name with every event, so an event defined
here under another class would be stored, and looked for, under a new name: the incidents
already stored would no longer load. Each moved event therefore states the topic it has
always had (`stored_as`), and `share_events` makes `Incident.<Name>` that very class."""
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
        status: Status = self.status  # type: ignore[attr-defined]  (set on opening)
        if status in FINISHED:
            raise IncidentFinished(
                f"incident {self.ref} cannot {doing}: it is already {status} "  # type: ignore[attr-defined]
                f"({status.label})")


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
