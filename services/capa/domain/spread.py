"""举一反三 — the same problem elsewhere: which peers of a case's entity are at risk of the
problem its root cause explains, and why each matched (no I/O: the caller hands in what capa
heard on the bus, and the time).

A peer shares the value of at least one class label (region, store format, …) with the case's
entity. A peer is at risk when, inside the lookback period, the case's rule fired on it, the
rule nearly fired on it (the detector's RuleNearMiss: its value came within the rule's band of
the threshold), or a case of its own found a root cause of the same category (人机料法环测):
docs/adr/spread-to-peers.md, docs/adr/near-misses.md."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.capa.domain.errors import InvalidCapaInput
from shared.errors import DomainError


@dataclass(frozen=True)
class Sighting:
    """One alert capa heard raised (AlertRaised)."""
    rule: str  # the detector rule's id, else the alert's name (an external alert)
    name: str
    entity: str
    labels: dict[str, str]
    started_at: datetime


@dataclass(frozen=True)
class NearMiss:
    """The rule nearly fired on an entity (RuleNearMiss): its value, short of the threshold."""
    name: str
    metric: str
    entity: str
    labels: dict[str, str]
    bound: str
    threshold: float
    value: float
    observed_at: datetime


@dataclass(frozen=True)
class Cause:
    """Another case's root cause: its category, and the entity and labels of its incident."""
    ref: str
    entity: str
    labels: dict[str, str]
    category: str
    recorded_at: datetime


@dataclass(frozen=True)
class Subject:
    """What the case is about: its entity, the labels and rule of its incident, the category
    of its root cause."""
    entity: str
    labels: dict[str, str]
    rule: str | None  # a rule id or an alert name: either matches a sighting
    category: str | None


@dataclass
class AtRisk:
    entity: str
    shared: dict[str, str]  # the class labels it shares with the case's entity
    reasons: list[str] = field(default_factory=list)
    last_seen: datetime | None = None


class RootCauseMissing(DomainError):
    """举一反三 looks for the signature a root cause explains: record one first."""


def shared_labels(subject: Subject, labels: dict[str, str],
                  class_labels: Iterable[str]) -> dict[str, str]:
    return {k: subject.labels[k] for k in class_labels
            if subject.labels.get(k) and labels.get(k) == subject.labels[k]}


def at_risk(subject: Subject, sightings: Iterable[Sighting], causes: Iterable[Cause],
            class_labels: list[str], since: datetime,
            near_misses: Iterable[NearMiss] = ()) -> list[AtRisk]:
    """The peers at risk, most recently seen first; an entity listed once with all its
    reasons. Nothing older than `since` counts."""
    found: dict[str, AtRisk] = {}

    def note(entity: str, labels: dict[str, str], at: datetime, reason: str) -> None:
        shared = shared_labels(subject, labels, class_labels)
        if entity == subject.entity or not shared or at < since:
            return
        peer = found.setdefault(entity, AtRisk(entity, shared))
        if reason not in peer.reasons:
            peer.reasons.append(reason)
        peer.last_seen = max(peer.last_seen or at, at)

    for s in sorted(sightings, key=lambda s: s.started_at):
        if subject.rule and subject.rule in (s.rule, s.name):
            note(s.entity, s.labels, s.started_at,
                 f"rule {s.name} fired here at {s.started_at:%Y-%m-%d %H:%M} UTC")
    for n in sorted(near_misses, key=lambda n: n.observed_at):
        note(n.entity, n.labels, n.observed_at,
             f"nearly fired: {n.metric} {n.value:g} vs threshold {n.threshold:g} on "
             f"{n.observed_at:%Y-%m-%d}")
    for c in sorted(causes, key=lambda c: c.recorded_at):
        if subject.category and c.category == subject.category:
            note(c.entity, c.labels, c.recorded_at,
                 f"{c.ref} found a root cause of the same category ({c.category}) here on "
                 f"{c.recorded_at:%Y-%m-%d}")
    for peer in found.values():
        peer.reasons.insert(0, "shares " + ", ".join(f"{k}={v}" for k, v in peer.shared.items())
                            + f" with {subject.entity}")
    return sorted(found.values(), key=lambda p: (p.last_seen, p.entity), reverse=True)


def render(template: str, field_name: str, **values: str) -> str:
    """A title or criterion for one entity: `{entity}`, `{root_cause}`, `{ref}` are filled."""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as error:
        raise InvalidCapaInput(field_name, f"{template!r} cannot be filled in ({error}): use "
                               "{entity}, {root_cause} or {ref}, and {{ }} for braces") from None
