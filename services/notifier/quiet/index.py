"""Lists the quiet rules (silences, maintenance windows, inhibition rules), so a decision
finds them with reads of the event store rather than of a table. A silence is dropped from
the list once it has ended; it stays in the store and in the read model."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id

QUIET_INDEX_ID = key_id("quiet-index")


class QuietIndex(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return QUIET_INDEX_ID

    @event("Opened")
    def __init__(self, at: datetime, actor: str, cause: Cause) -> None:
        self.silences: dict[str, datetime] = {}  # id -> ends_at
        self.windows: list[str] = []
        self.inhibitions: list[str] = []

    def ids(self) -> list[UUID]:
        return [UUID(i) for i in [*self.silences, *self.windows, *self.inhibitions]]

    def list_silence(self, silence_id: UUID, ends_at: datetime, at: datetime, actor: str,
                     cause: Cause) -> None:
        ended = [i for i, ends in self.silences.items() if ends <= at]
        self._list_silence(silence_id=str(silence_id), ends_at=ends_at, dropped=ended, at=at,
                           actor=actor, cause=cause)

    def silence_ended(self, silence_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(silence_id) in self.silences:
            self._unlist(kind="silence", id=str(silence_id), at=at, actor=actor, cause=cause)

    def list_rule(self, kind: str, rule_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(rule_id) not in getattr(self, KINDS[kind]):
            self._list_rule(kind=kind, id=str(rule_id), at=at, actor=actor, cause=cause)

    def unlist_rule(self, kind: str, rule_id: UUID, at: datetime, actor: str,
                    cause: Cause) -> None:
        if str(rule_id) in getattr(self, KINDS[kind]):
            self._unlist(kind=kind, id=str(rule_id), at=at, actor=actor, cause=cause)

    @event("SilenceListed")
    def _list_silence(self, silence_id: str, ends_at: datetime, dropped: list[str],
                      at: datetime, actor: str, cause: Cause) -> None:
        for i in dropped:
            self.silences.pop(i, None)
        self.silences[silence_id] = ends_at

    @event("RuleListed")
    def _list_rule(self, kind: str, id: str, at: datetime, actor: str,  # noqa: A002
                   cause: Cause) -> None:
        getattr(self, KINDS[kind]).append(id)

    @event("Unlisted")
    def _unlist(self, kind: str, id: str, at: datetime, actor: str,  # noqa: A002
                cause: Cause) -> None:
        listed = getattr(self, KINDS[kind])
        if isinstance(listed, dict):
            listed.pop(id, None)
        else:
            listed.remove(id)


KINDS = {"silence": "silences", "window": "windows", "inhibition": "inhibitions"}
