"""The decision when an incident opens, and again when its hold is looked at: which labels
it carries, which policies the routing tree sends it to (and why), and what holds its
notifications, if anything. Pure: the rules, the policies and the firing set come in."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.notifier.quiet.cache import QuietRules
from services.notifier.quiet.holds import HoldKind
from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.quiet.matchers import matches_all, parse_list
from shared.contracts import IncidentOpened

TRIAL = "trial"
TRIAL_NAME = "trial mode (内部试运行)"


@dataclass(frozen=True)
class Firing:
    """An incident whose alert fires (opened, not yet resolved or closed)."""

    incident_id: str
    ref: str
    labels: Mapping[str, str]


def labels_of(contract: IncidentOpened) -> dict[str, str]:
    """The incident's labels as the incidents service sent them; from an older sender that
    sent none, what the contract says (entity, and severity, which routing needs)."""
    labels = dict(contract.labels)
    labels.setdefault("entity", contract.entity)
    labels["severity"] = contract.severity
    return labels


def routed(rules: QuietRules, labels: Mapping[str, str],
           policies: Sequence[Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The policies the routing tree chooses for these labels, in tree order, and the routes
    that chose them (each with its receiver, its policies and a note when it took none)."""
    found = rules.route(labels, policies)
    by_name = {p.name: p for p in policies}
    return [by_name[n] for n in found.policies if n in by_name], found.matched


def trial_hold() -> dict[str, Any]:
    return {"kind": TRIAL, "id": None, "name": TRIAL_NAME, "until": None, "by": None,
            "source_incident_id": None, "source_ref": None}


def hold_at(labels: Mapping[str, str], at: datetime, rules: QuietRules,
            firing: Sequence[Firing]) -> dict[str, Any] | None:
    """What holds these labels at `at` (quiet/holds.py: silence, then window, then
    inhibition), as stored on the opening; None when nothing does."""
    hold = rules.held_by(labels, at, [f.labels for f in firing])
    if hold is None:
        return None
    source = (next((f for f in firing if dict(f.labels) == dict(hold.by)), None)
              if hold.by is not None else None)
    return {**hold.view(), "source_incident_id": source.incident_id if source else None,
            "source_ref": source.ref if source else None}


def recheck_at(hold: dict[str, Any] | None) -> datetime | None:
    """When to look at the rules again: when a silence or window ends. An inhibition is
    looked at again when its source ends (or the rule changes), and trial never is."""
    if hold is None or hold["kind"] not in (HoldKind.SILENCE, HoldKind.MAINTENANCE):
        return None
    return hold["until"]


def targeted(labels: Mapping[str, str], rules: Sequence[InhibitionRule]) -> list[InhibitionRule]:
    """The inhibition rules whose target side these labels match: only for them is the
    firing set worth reading."""
    return [r for r in rules if not r.deleted and matches_all(
        parse_list(r.definition["target_matchers"], "target_matchers"), labels)]
