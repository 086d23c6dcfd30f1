"""Which knowledge entries fit an incident, and why: the rule that raised it, its problem
category, its entity and entity-class labels, and the words of its title, each adding a
fixed share of the score; what responders said of earlier recommendations scales the sum."""
from __future__ import annotations

import heapq
from collections import defaultdict
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

    @property
    def factor(self) -> float:
        return feedback_factor(self.useful, self.not_useful)


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

    def search(self, query: str, limit: int = 20
               ) -> tuple[list[tuple[Entry, float, list[str]]], int]:
        """The best `limit` entries for the text (entry, similarity, shared terms), and how
        many entries share any term with it."""
        scores = self.text.text_scores(query)
        best = heapq.nlargest(limit, scores.items(), key=lambda kv: (kv[1], kv[0]))
        return [(self.entries[key], score, self.text.shared_terms(query, key))
                for key, score in best], len(scores)

    def recommend(self, incident: Incident, limit: int = 5) -> list[dict[str, Any]]:
        """Scores accumulate along postings (no pass over every candidate's fields); only the
        top `limit` are explained."""
        query = " ".join(filter(None, (incident.title, incident.entity, incident.rule)))
        text = self.text.text_scores(query)
        base: dict[str, float] = defaultdict(float)
        for key, similarity in text.items():
            base[key] += WEIGHTS["text"] * min(similarity, 1.0)
        for name, value in (("rule", incident.rule), ("entity", incident.entity),
                            ("category", incident.category)):
            for key in self.text.with_field(f"{name}:{value}") if value else ():
                base[key] += WEIGHTS[name]
        labels = class_labels(incident.labels)
        for pair in labels:
            for key in self.text.with_field(f"label:{pair}"):
                base[key] += WEIGHTS["labels"] / len(labels)
        entries = self.entries
        scored = ((-round(share * entries[key].factor, 4), key) for key, share in base.items())
        best = heapq.nsmallest(limit, (pair for pair in scored if -pair[0] >= MIN_SCORE))
        ranked = []
        for negative, key in best:
            entry = self.entries[key]
            similarity = text.get(key)
            terms = self.text.shared_terms(query, key) if similarity else []
            ranked.append({"entry_id": key, "score": -negative,
                           "matched": _matches(entry, incident, labels, similarity, terms),
                           "feedback": {"useful": entry.useful, "not_useful": entry.not_useful,
                                        "factor": round(entry.factor, 3)}})
        return ranked


def _matches(entry: Entry, incident: Incident, labels: set[str], similarity: float | None,
             terms: list[str]) -> list[dict[str, Any]]:
    matched = []
    if similarity:
        matched.append({"field": "text", "value": ", ".join(terms[:8]),
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
