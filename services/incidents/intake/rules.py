"""The configured rules: which problem type a report's words point to, and which severity."""
from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.vocabulary import Severity

from services.incidents.intake.catalogue import Catalogue


@dataclass(frozen=True)
class Guess:
    """One method's answer: a problem type (None: no idea), how sure, and why."""

    method: str  # "rules" or "model"
    problem_type: str | None
    confidence: float
    reasons: tuple[str, ...]


def guess_type(catalogue: Catalogue, text: str) -> Guess:
    """The type whose keywords and patterns weigh most in the text. Confidence is its weight
    against all weights found plus one, so one lone keyword is 0.5, a pattern and a keyword
    0.75, and words pointing to two types share the certainty."""
    scored = []
    for problem_type in catalogue.types.values():
        hits = problem_type.cues.hits(text)
        if hits:
            scored.append((sum(w for _, w in hits), problem_type.id, hits))
    if not scored:
        return Guess("rules", None, 0.0, ("no keyword or pattern of any problem type matched",))
    # Ties go to the type listed first in the file: the operator orders the catalogue.
    order = list(catalogue.types)
    scored.sort(key=lambda s: (-s[0], order.index(s[1])))
    weight, best, hits = scored[0]
    total = sum(s[0] for s in scored)
    reasons = tuple(f"matched {word!r}" for word, _ in hits)
    return Guess("rules", best, round(weight / (total + 1), 3), reasons)


def guess_severity(catalogue: Catalogue, text: str, problem_type: str | None,
                   type_confidence: float) -> tuple[Severity, float, tuple[str, ...]]:
    """The most urgent severity whose cue words appear; else the problem type's own
    severity (as sure as the type is); else the catalogue's default."""
    for level in sorted(catalogue.severity_cues):  # P0 first
        hits = catalogue.severity_cues[level].hits(text)
        if hits:
            weight = sum(w for _, w in hits)
            return level, round(weight / (weight + 1), 3), tuple(
                f"{level}: matched {word!r}" for word, _ in hits)
    if problem_type in catalogue.types:
        return (catalogue.types[problem_type].severity, type_confidence,
                (f"the usual severity of {problem_type}",))
    return catalogue.default_severity, 0.0, ("no cue matched: the default severity",)
