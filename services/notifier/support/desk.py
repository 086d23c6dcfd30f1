"""The support desk's configuration as one aggregate: the tiers in order with their time
boxes, the support groups (each a team of the organisation, at one tier, escalating to a
group of the next), and which group each problem type goes to first. Revised as a whole."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from shared.errors import Invalid

SUPPORT_DESK_ID = key_id("support-desk")


class SupportDesk(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return SUPPORT_DESK_ID

    @event("Defined")
    def __init__(self, rules: dict, at: datetime, actor: str, cause: Cause) -> None:
        self.rules, self.updated_at, self.updated_by = rules, at, actor

    def revise(self, rules: dict, at: datetime, actor: str, cause: Cause) -> bool:
        """False (nothing recorded) when the rules are the same."""
        if rules == self.rules:
            return False
        self._revised(rules=rules, at=at, actor=actor, cause=cause)
        return True

    @event("Revised")
    def _revised(self, rules: dict, at: datetime, actor: str, cause: Cause) -> None:
        self.rules, self.updated_at, self.updated_by = rules, at, actor

    def chain_for(self, problem_type: str | None) -> list[dict[str, Any]] | None:
        """The tiers an incident of this type climbs: its L1 group, then the group each
        escalates to, each with its tier's time box. None when the type has no group and
        there is no default."""
        first = self.rules["types"].get(problem_type or "") or self.rules.get("default_group")
        if first is None:
            return None
        boxes = {t["name"]: t.get("time_box_seconds") for t in self.rules["tiers"]}
        chain, name = [], first
        while name is not None:
            group = self.rules["groups"][name]
            chain.append({"tier": group["tier"], "group": name, "team": group["team"],
                          "time_box_seconds": boxes[group["tier"]]})
            name = group.get("escalates_to")
        return chain


def checked_rules(raw: Any, teams: set[str]) -> dict[str, Any]:
    """The configuration, or InvalidSupport naming the field and the fix."""
    if not isinstance(raw, dict) or set(raw) - {"tiers", "groups", "types", "default_group"}:
        raise InvalidSupport("support", "give tiers, groups, types and optionally default_group")
    tiers = _tiers(raw.get("tiers"))
    order = [t["name"] for t in tiers]
    groups = _groups(raw.get("groups"), order, teams)
    types = raw.get("types") or {}
    if not isinstance(types, dict):
        raise InvalidSupport("types", "map each problem type to its first support group")
    for kind, group in types.items():
        _first_tier(f"types.{kind}", group, groups, order)
    default = raw.get("default_group")
    if default is not None:
        _first_tier("default_group", default, groups, order)
    return {"tiers": tiers, "groups": groups, "types": dict(types), "default_group": default}


def _tiers(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidSupport("tiers", "list the tiers in order, e.g. [{name: L1, "
                             "time_box_seconds: 1800}, {name: L2, ...}, {name: R&D}]")
    tiers, seen = [], set()
    for n, tier in enumerate(raw):
        name = tier.get("name") if isinstance(tier, dict) else None
        if not isinstance(name, str) or not name.strip() or name in seen:
            raise InvalidSupport(f"tiers[{n}].name", "a name of its own (L1, L2, R&D)")
        box = tier.get("time_box_seconds")
        if box is not None and (isinstance(box, bool) or not isinstance(box, (int, float))
                                or not math.isfinite(box) or box <= 0):
            raise InvalidSupport(f"tiers[{n}].time_box_seconds", "a positive number of "
                                 "seconds, or leave it out: the tier then never escalates "
                                 "on time")
        seen.add(name)
        tiers.append({"name": name, "time_box_seconds": float(box) if box else None})
    return tiers


def _groups(raw: Any, order: list[str], teams: set[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not raw:
        raise InvalidSupport("groups", "name the support groups: {pos-l1: {tier: L1, team: "
                             "POS一线, escalates_to: pos-l2}, ...}")
    groups = {}
    for name, group in raw.items():
        field = f"groups.{name}"
        if not isinstance(group, dict) or group.get("tier") not in order:
            raise InvalidSupport(f"{field}.tier", f"one of the tiers: {', '.join(order)}")
        if group.get("team") not in teams:
            raise InvalidSupport(f"{field}.team", f"a team of the organisation, not "
                                 f"{group.get('team')!r}; define it in the directory first")
        groups[name] = {"tier": group["tier"], "team": group["team"],
                        "escalates_to": group.get("escalates_to")}
    for name, group in groups.items():
        at = order.index(group["tier"])
        target = group["escalates_to"]
        field = f"groups.{name}.escalates_to"
        if at == len(order) - 1:
            if target is not None:
                raise InvalidSupport(field, f"{group['tier']} is the last tier: nothing to "
                                     "escalate to")
        elif target not in groups or groups[target]["tier"] != order[at + 1]:
            raise InvalidSupport(field, f"a group of the next tier ({order[at + 1]})")
    return groups


def _first_tier(field: str, group: Any, groups: dict[str, Any], order: list[str]) -> None:
    if group not in groups or groups[group]["tier"] != order[0]:
        raise InvalidSupport(field, f"a support group of the first tier ({order[0]}), not "
                             f"{group!r}")


class InvalidSupport(Invalid):
    """The support desk's configuration breaks a rule (HTTP 422 naming the field)."""
