"""Inhibition rules, with Alertmanager's meaning: while an alert matching the source matchers
fires, alerts matching the target matchers that carry the same values of the `equal` labels
are held (a missing label equals a missing label). An alert never holds itself, and when an
alert matches both sides, sources that also match the target side are not counted, so two
such alerts cannot hold each other."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.quiet.matchers import (
    Matcher, canonical, check_label_names, matches_all, parse_list,
)
from shared.errors import Invalid, NotFound


def inhibiting_source(source: list[Matcher], target: list[Matcher], equal: list[str],
                      labels: Mapping[str, str],
                      firing: Iterable[Mapping[str, str]]) -> Mapping[str, str] | None:
    """The labels of a firing alert that holds `labels`, or None."""
    if not matches_all(target, labels):
        return None
    two_sided = matches_all(source, labels)
    for alert in firing:
        if alert == labels or not matches_all(source, alert):
            continue
        if any(alert.get(n, "") != labels.get(n, "") for n in equal):
            continue
        if two_sided and matches_all(target, alert):
            continue
        return alert
    return None


class InhibitionRule(Aggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"inhibition:{name}")

    @staticmethod
    def normalised(**spec) -> dict:
        if not str(spec.get("name", "")).strip():
            raise Invalid("name", "an inhibition rule needs a name")
        source = parse_list(spec["source_matchers"], "source_matchers")
        target = parse_list(spec["target_matchers"], "target_matchers")
        for field, matchers in (("source_matchers", source), ("target_matchers", target)):
            if not matchers:
                raise Invalid(field, "list at least one matcher")
        return {"name": spec["name"], "source_matchers": canonical(source),
                "target_matchers": canonical(target),
                "equal": check_label_names(spec.get("equal") or [], "equal"),
                "comment": spec.get("comment") or ""}

    @classmethod
    def define(cls, definition: dict, at: datetime, actor: str, cause: Cause):
        """`definition` as normalised(...) returns it."""
        return cls._create(cls.Defined, id=cls.create_id(definition["name"]),
                           definition=definition, at=at, actor=actor, cause=cause)

    @event("Defined")
    def __init__(self, definition: dict, at: datetime, actor: str, cause: Cause) -> None:
        self._apply(definition, at, actor)
        self.created_at, self.created_by = at, actor

    def _apply(self, definition: dict, at: datetime, actor: str) -> None:
        self.definition = definition
        self.name = definition["name"]
        self.deleted = False
        self.updated_at, self.updated_by = at, actor

    def source_of(self, labels: Mapping[str, str],
                  firing: Iterable[Mapping[str, str]]) -> Mapping[str, str] | None:
        if self.deleted:
            return None
        d = self.definition
        return inhibiting_source(parse_list(d["source_matchers"], "source_matchers"),
                                 parse_list(d["target_matchers"], "target_matchers"),
                                 d["equal"], labels, firing)

    # -- commands -------------------------------------------------------------------------
    def revise(self, definition: dict, at: datetime, actor: str, cause: Cause) -> bool:
        """Replace the definition (or bring a deleted rule back); False if nothing changes."""
        if definition["name"] != self.name:
            raise Invalid("name", "a rule keeps its name; delete it and define a new one")
        if definition == self.definition and not self.deleted:
            return False
        self._revise(definition=definition, at=at, actor=actor, cause=cause)
        return True

    def delete(self, at: datetime, actor: str, cause: Cause) -> bool:
        if self.deleted:
            return False
        self._delete(at=at, actor=actor, cause=cause)
        return True

    @event("Revised")
    def _revise(self, definition: dict, at: datetime, actor: str, cause: Cause) -> None:
        self._apply(definition, at, actor)

    @event("Deleted")
    def _delete(self, at: datetime, actor: str, cause: Cause) -> None:
        self.deleted, self.updated_at, self.updated_by = True, at, actor


class InhibitionNotFound(NotFound):
    pass
