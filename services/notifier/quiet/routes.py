"""The routing tree as one aggregate: revised as a whole, so a tree is never half-applied and
its history reads as the trees that were in force, with who changed them and why."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.quiet.tree import DEFAULT_SPEC, Route, parse_tree

ROUTES_ID = key_id("routes")


class Routes(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return ROUTES_ID

    @event("Defined")
    def __init__(self, tree: dict, at: datetime, actor: str, cause: Cause) -> None:
        self.tree, self.updated_at, self.updated_by = tree, at, actor

    @property
    def parsed(self) -> Route:
        return parse_tree(self.tree)

    def revise(self, tree: dict, at: datetime, actor: str, cause: Cause) -> bool:
        """`tree` as normalised by parse_tree(...).spec(); False when it is the same."""
        if tree == self.tree:
            return False
        self._revise(tree=tree, at=at, actor=actor, cause=cause)
        return True

    @event("Revised")
    def _revise(self, tree: dict, at: datetime, actor: str, cause: Cause) -> None:
        self.tree, self.updated_at, self.updated_by = tree, at, actor


def default_tree() -> Route:
    return parse_tree(DEFAULT_SPEC)
