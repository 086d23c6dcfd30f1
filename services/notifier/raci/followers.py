"""Who follows an incident, as the incidents service says (IncidentFollowed, IncidentUnfollowed):
they hear of its lifecycle and progress besides its R, A and I. The reporter of an incident
declared by hand follows it from the start (`via` "reporter") and is remembered as such
even should they stop following."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentFollowed, IncidentUnfollowed
from shared.store import Tracking



class Followers(Aggregate):
    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"followers:{incident_id}")

    @event("Started")
    def __init__(self, incident_id: str, ref: str, at: datetime, actor: str,
                 cause: Cause) -> None:
        self.incident_id, self.ref = incident_id, ref
        self.people: list[str] = []
        self.reporter: str | None = None

    def follow(self, person: str, via: str, at: datetime, actor: str, cause: Cause) -> bool:
        """False when they follow it already (a redelivered message)."""
        if person in self.people:
            return False
        self._followed(person=person, via=via, at=at, actor=actor, cause=cause)
        return True

    @event("Followed")
    def _followed(self, person: str, via: str, at: datetime, actor: str, cause: Cause) -> None:
        self.people.append(person)
        if via == "reporter":
            self.reporter = person

    def unfollow(self, person: str, at: datetime, actor: str, cause: Cause) -> bool:
        if person not in self.people:
            return False
        self._unfollowed(person=person, at=at, actor=actor, cause=cause)
        return True

    @event("Unfollowed")
    def _unfollowed(self, person: str, at: datetime, actor: str, cause: Cause) -> None:
        self.people.remove(person)


class Following:
    """Mixed into NotifierApplication (get_or_none, save_tracked, clock)."""

    def followers_of(self, incident_id: str) -> Followers | None:
        found = self.get_or_none(Followers.create_id(incident_id))  # type: ignore[attr-defined]
        return found if isinstance(found, Followers) else None

    def handle_incident_followed(self, envelope: CloudEvent, contract: IncidentFollowed,
                                 tracking: Tracking) -> None:
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        followers = self.followers_of(contract.incident_id) or Followers(
            incident_id=contract.incident_id, ref=contract.ref, at=at, actor="notifier",
            cause=cause)
        followers.follow(contract.person, contract.via, at, "notifier", cause)
        self.save_tracked(followers, tracking=tracking)  # type: ignore[attr-defined]

    def handle_incident_unfollowed(self, envelope: CloudEvent, contract: IncidentUnfollowed,
                                   tracking: Tracking) -> None:
        followers = self.followers_of(contract.incident_id)
        if followers is None:  # never followed here: nothing to forget
            self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]
            return
        followers.unfollow(contract.person, self.clock.now(),  # type: ignore[attr-defined]
                           "notifier", from_message(envelope))
        self.save_tracked(followers, tracking=tracking)  # type: ignore[attr-defined]
