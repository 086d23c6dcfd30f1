"""An in-memory inverted index over knowledge entries for mixed Chinese and English text.

English is split into lower-cased words; Chinese runs into overlapping character bigrams
(plus the single character of a one-character run), the CJK analysis Lucene and Elasticsearch
ship as `cjk`: no dictionary to maintain, and a query word of any length matches its bigrams.
Weights are SMART lnc.ltc: an entry's vector is log tf, cosine-normalised, with no idf, so it
never changes when other entries arrive; the query carries idf. Entries are upserted one by
one as the read model changes, so the index never has to be rebuilt."""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_STOP = frozenset("a an and the of to in on for is was are be by with at from it as or not no"
                  .split())


def tokens(text: str) -> list[str]:
    text = text.lower()
    found = [w for w in _WORD.findall(text) if w not in _STOP]
    for run in _CJK.findall(text):
        found += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
    return found


def vector(terms: Iterable[str]) -> dict[str, float]:
    """log tf, cosine-normalised."""
    weights = {t: 1 + math.log(n) for t, n in Counter(terms).items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


class TextIndex:
    """Text postings (term → entry → weight) and exact-field postings (`rule:…`, `label:k=v`…)
    for finding candidates without scanning every entry."""

    def __init__(self) -> None:
        self._text: dict[str, dict[str, float]] = defaultdict(dict)
        self._fields: dict[str, set[str]] = defaultdict(set)
        self._docs: dict[str, tuple[dict[str, float], set[str]]] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def upsert(self, key: str, text: str, fields: Iterable[str]) -> None:
        self.remove(key)
        weights, keys = vector(tokens(text)), set(fields)
        for term, weight in weights.items():
            self._text[term][key] = weight
        for field in keys:
            self._fields[field].add(key)
        self._docs[key] = (weights, keys)

    def remove(self, key: str) -> None:
        weights, keys = self._docs.pop(key, ({}, set()))
        for term in weights:
            self._text[term].pop(key, None)
            if not self._text[term]:
                del self._text[term]
        for field in keys:
            self._fields[field].discard(key)

    def text_scores(self, text: str) -> dict[str, float]:
        """Cosine of each entry sharing a term with `text` (unordered: callers take the top)."""
        total = len(self._docs)
        query = {t: w * math.log(1 + total / len(self._text[t]))
                 for t, w in vector(tokens(text)).items() if t in self._text}
        norm = math.sqrt(sum(w * w for w in query.values())) or 1.0
        scores: dict[str, float] = defaultdict(float)
        for term, weight in query.items():
            weight /= norm
            for key, doc_weight in self._text[term].items():
                scores[key] += weight * doc_weight
        return scores

    def shared_terms(self, text: str, key: str) -> list[str]:
        """The terms of `text` the entry has: the words a reason shows."""
        weights = self._docs[key][0]
        return sorted({t for t in tokens(text) if t in weights})

    def with_field(self, field: str) -> set[str]:
        return self._fields.get(field, set())
