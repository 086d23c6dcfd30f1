"""The quiet rules' commands: the routing tree, silences, maintenance windows and inhibition
rules, each change a stored event with actor and cause. Mixed into NotifierApplication (it
brings get_or_none, save, clock, retry_on_conflict and the policies)."""
from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from services.notifier.quiet.cache import QuietCache
from services.notifier.quiet.index import QUIET_INDEX_ID, QuietIndex
from services.notifier.quiet.inhibitions import InhibitionNotFound, InhibitionRule
from services.notifier.quiet.routes import ROUTES_ID, Routes, default_tree
from services.notifier.quiet.silences import Silence, SilenceNotFound
from services.notifier.quiet.tree import Route, check_receivers, parse_tree, route
from services.notifier.quiet.views import rule_view, routes_view, silence_view
from services.notifier.quiet.windows import MaintenanceWindow, WindowNotFound
from services.notifier.domain.routing import NameTaken

INDEX_RETRIES = 5
RULES: dict[str, tuple[type, type]] = {
    "window": (MaintenanceWindow, WindowNotFound),
    "inhibition": (InhibitionRule, InhibitionNotFound),
}


class Quieting:
    @cached_property
    def quiet_cache(self) -> QuietCache:
        """The tree and rules for decisions: `quiet_cache.current()` (one query when nothing
        changed) gives route(), held_by() and hold_ends()."""
        return QuietCache(self, self.reads)

    # -- routes ---------------------------------------------------------------------------
    def routing_tree(self) -> tuple[Route, Routes | None]:
        stored = self.get_or_none(ROUTES_ID)
        return (stored.parsed, stored) if stored is not None else (default_tree(), None)

    def routes(self) -> dict:
        return routes_view(*self.routing_tree())

    def define_routes(self, spec: dict, actor: str, cause: dict) -> dict:
        tree = parse_tree(spec)
        check_receivers(tree, (p.name for p in self._policies()))
        at, normalised = self.clock.now(), tree.spec()
        stored = self.get_or_none(ROUTES_ID)
        if stored is None:
            stored = Routes(tree=normalised, at=at, actor=actor, cause=cause)
        else:
            stored.revise(normalised, at, actor, cause)
        self.save(stored)
        return routes_view(tree, stored)

    def test_route(self, labels: dict[str, str]) -> dict:
        """Which policies an alert with these labels goes to, and the path through the tree."""
        tree, _ = self.routing_tree()
        return route(tree, labels, self._policies()).explain()

    # -- silences -------------------------------------------------------------------------
    def create_silence(self, *, matchers: str | list[str], starts_at: datetime,
                       ends_at: datetime, comment: str, actor: str, cause: dict) -> dict:
        def attempt() -> Silence:
            at = self.clock.now()
            silence = Silence.create(matchers=matchers, starts_at=starts_at, ends_at=ends_at,
                                     comment=comment, at=at, actor=actor, cause=cause)
            index = self._quiet_index(at, actor, cause)
            index.list_silence(silence.id, silence.ends_at, at, actor, cause)
            self.save(silence, index)
            return silence

        return silence_view(self.retry_on_conflict(attempt, attempts=INDEX_RETRIES),
                            self.clock.now())

    def expire_silence(self, silence_id: UUID, actor: str, cause: dict) -> dict:
        def attempt() -> Silence:
            at = self.clock.now()
            silence = self._silence(silence_id)
            silence.expire(at, actor, cause)
            index = self._quiet_index(at, actor, cause)
            index.silence_ended(silence.id, at, actor, cause)
            self.save(silence, index)
            return silence

        return silence_view(self.retry_on_conflict(attempt, attempts=INDEX_RETRIES),
                            self.clock.now())

    def silence(self, silence_id: UUID) -> dict:
        return silence_view(self._silence(silence_id), self.clock.now())

    def _silence(self, silence_id: UUID) -> Silence:
        found = self.get_or_none(silence_id)
        if not isinstance(found, Silence):
            raise SilenceNotFound(f"silence {silence_id} does not exist")
        return found

    # -- maintenance windows and inhibition rules -----------------------------------------
    def define_rule(self, kind: str, spec: dict, actor: str, cause: dict) -> dict:
        cls, _ = RULES[kind]
        definition = cls.normalised(**spec)

        def attempt() -> Any:
            at = self.clock.now()
            rule = self.get_or_none(cls.create_id(definition["name"]))
            if rule is not None and not rule.deleted:
                raise NameTaken(f"{kind} {definition['name']!r} already exists; change it with "
                                f"PUT on its id {rule.id}")
            if rule is None:
                rule = cls.define(definition, at, actor, cause)
            else:  # deleted before: the name's id comes back with the new definition
                rule.revise(definition, at, actor, cause)
            index = self._quiet_index(at, actor, cause)
            index.list_rule(kind, rule.id, at, actor, cause)
            self.save(rule, index)
            return rule

        return rule_view(self.retry_on_conflict(attempt, attempts=INDEX_RETRIES))

    def revise_rule(self, kind: str, rule_id: UUID, spec: dict, actor: str, cause: dict) -> dict:
        rule = self._rule(kind, rule_id)
        definition = RULES[kind][0].normalised(**{"name": rule.name, **spec})
        rule.revise(definition, self.clock.now(), actor, cause)
        self.save(rule)
        return rule_view(rule)

    def delete_rule(self, kind: str, rule_id: UUID, actor: str, cause: dict) -> None:
        def attempt() -> None:
            at = self.clock.now()
            rule = self._rule(kind, rule_id)
            rule.delete(at, actor, cause)
            index = self._quiet_index(at, actor, cause)
            index.unlist_rule(kind, rule.id, at, actor, cause)
            self.save(rule, index)

        self.retry_on_conflict(attempt, attempts=INDEX_RETRIES)

    def rule(self, kind: str, rule_id: UUID) -> dict:
        return rule_view(self._rule(kind, rule_id))

    def _rule(self, kind: str, rule_id: UUID) -> Any:
        cls, not_found = RULES[kind]
        found = self.get_or_none(rule_id)
        if not isinstance(found, cls) or found.deleted:
            raise not_found(f"{kind} {rule_id} does not exist")
        return found

    def _quiet_index(self, at: datetime, actor: str, cause: dict) -> QuietIndex:
        return self.get_or_none(QUIET_INDEX_ID) or QuietIndex(at=at, actor=actor, cause=cause)
