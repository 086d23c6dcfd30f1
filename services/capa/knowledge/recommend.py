"""Which knowledge entries fit an incident, and why: the rule that raised it, its problem
category, its entity and entity-class labels, and the words of its title, each adding a
fixed share of the score; what responders said of earlier recommendations scales the sum."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.capa.domain import Category
from services.capa.knowledge.index import TextIndex

# Shares of a perfect match. Text is the largest because it is the only signal a manual
# incident (no rule, few labels) has; a shared rule is the strongest single exact field.
WEIGHTS = {"text": 0.40, "rule": 0.20, "labels": 0.15, "category": 0.15, "entity": 0.10}
MIN_SCORE = 0.05  # below this a "match" is one common word: noise, not advice
# Labels that say nothing about the entity's class (or are matched as their own field).
NOT_CLASS = frozenset({"alertname", "entity", "severity", "category", "problem_type",
                       "instance", "pod", "host", "fingerprint"})


@dataclass
class Entry:
    id: str
    text: str
    entity: str
    rule: str | None
    category: str | None
    labels: dict[str, str]
    useful: int = 0
    not_useful: int = 0
    review_by: date | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class Incident:
    incident_id: str
    title: str
    entity: str
    rule: str | None
    labels: dict[str, str]

    @property
    def category(self) -> str | None:
        return category_of(self.labels.get("category") or self.labels.get("problem_type"))


def category_of(value: str | None) -> str | None:
    """`environment` or `环` → `environment`; anything else is a free-form problem type."""
    if not value:
        return None
    try:
        return Category(value).value
    except ValueError:
        return value.strip().lower()


def class_labels(labels: dict[str, str]) -> set[str]:
    return {f"{k}={v}" for k, v in labels.items() if k not in NOT_CLASS}


def feedback_factor(useful: int, not_useful: int) -> float:
    """0.5‥1.5, 1.0 with no votes: Laplace-smoothed share of 'it helped', so one vote moves an
    entry but cannot bury or crown it."""
    return 0.5 + (useful + 1) / (useful + not_useful + 2)


class KnowledgeIndex:
    """The entries, their text and field postings, and the ranking over them."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.text = TextIndex()

    def __len__(self) -> int:
        return len(self.entries)

    def upsert(self, entry: Entry) -> None:
        self.entries[entry.id] = entry
        fields = {f"label:{pair}" for pair in class_labels(entry.labels)}
        fields |= {f"{name}:{value}" for name, value in (
            ("rule", entry.rule), ("entity", entry.entity),
            ("category", category_of(entry.category))) if value}
        self.text.upsert(entry.id, entry.text, fields)

    def search(self, query: str, limit: int = 20) -> list[tuple[Entry, float, list[str]]]:
        return [(self.entries[key], score, terms)
                for key, (score, terms) in list(self.text.text_scores(query).items())[:limit]]

    def recommend(self, incident: Incident, limit: int = 5) -> list[dict[str, Any]]:
        text = self.text.text_scores(" ".join(filter(None, (incident.title, incident.entity,
                                                            incident.rule))))
        labels = class_labels(incident.labels)
        candidates = set(text)
        for name, value in (("rule", incident.rule), ("entity", incident.entity),
                            ("category", incident.category)):
            if value:
                candidates |= self.text.with_field(f"{name}:{value}")
        for pair in labels:
            candidates |= self.text.with_field(f"label:{pair}")
        ranked = []
        for key in candidates:
            entry = self.entries[key]
            matched = _matches(entry, incident, labels, text.get(key))
            base = sum(m["score"] for m in matched)
            factor = feedback_factor(entry.useful, entry.not_useful)
            score = round(base * factor, 4)
            if score >= MIN_SCORE:
                ranked.append({"entry_id": key, "score": score, "matched": matched,
                               "feedback": {"useful": entry.useful,
                                            "not_useful": entry.not_useful,
                                            "factor": round(factor, 3)}})
        ranked.sort(key=lambda r: (-r["score"], r["entry_id"]))
        return ranked[:limit]


def _matches(entry: Entry, incident: Incident, labels: set[str],
             text: tuple[float, list[str]] | None) -> list[dict[str, Any]]:
    matched = []
    if text:
        similarity, terms = text
        matched.append({"field": "text", "value": ", ".join(sorted(terms)[:8]),
                        "similarity": round(similarity, 3),
                        "score": round(WEIGHTS["text"] * min(similarity, 1.0), 4)})
    for name, mine, theirs in (("rule", entry.rule, incident.rule),
                               ("entity", entry.entity, incident.entity),
                               ("category", category_of(entry.category), incident.category)):
        if mine and mine == theirs:
            matched.append({"field": name, "value": mine, "score": WEIGHTS[name]})
    shared = labels & class_labels(entry.labels)
    if shared:
        matched.append({"field": "labels", "value": ", ".join(sorted(shared)),
                        "score": round(WEIGHTS["labels"] * len(shared) / len(labels), 4)})
    return matched
