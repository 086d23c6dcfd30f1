"""Manual intake's classifier: the configured rules first, the learned model once enough
people-given types exist (docs/adr/intake-classification.md). It proposes a problem type and a
severity, says how sure it is and why, and is retrained from labelled examples on demand."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.incidents.intake.catalogue import Catalogue
from services.incidents.intake.rules import Guess, guess_severity, guess_type

if TYPE_CHECKING:
    from services.incidents.intake.model import TypeModel


@dataclass(frozen=True)
class Example:
    text: str
    problem_type: str


def report_text(title: str | None, summary: str | None, description: str | None) -> str:
    """What the classifier reads of a report."""
    return "\n".join(part for part in (title, summary, description) if part)


class Classifier:
    def __init__(self, catalogue: Catalogue, min_examples: int = 30,
                 model_threshold: float = 0.5) -> None:
        self.catalogue = catalogue
        self.min_examples, self.model_threshold = min_examples, model_threshold
        self._model: TypeModel | None = None
        self._lock = threading.Lock()  # one training at a time; proposals read a reference
        self.status: dict[str, Any] = {"trained": False, "examples": 0, "types": {},
                                       "trained_at": None, "reason": "not trained yet"}

    def propose(self, text: str) -> dict[str, Any]:
        rules = guess_type(self.catalogue, text)
        model = self._model
        learned = model.guess(text) if model is not None else None
        chosen = self._choose(rules, learned)
        severity, severity_confidence, severity_reasons = guess_severity(
            self.catalogue, text, chosen.problem_type, chosen.confidence)
        return {
            "problem_type": chosen.problem_type, "confidence": chosen.confidence,
            "method": chosen.method, "reasons": list(chosen.reasons),
            "severity": str(severity), "severity_confidence": severity_confidence,
            "severity_reasons": list(severity_reasons),
            "candidates": [_plain(g) for g in (rules, learned) if g is not None],
        }

    def _choose(self, rules: Guess, learned: Guess | None) -> Guess:
        # The model learned from people's corrections, so where it is sure it overrules the
        # words; where the words found nothing, even an unsure model is better than nothing.
        if learned is None:
            return rules
        if learned.confidence >= self.model_threshold or rules.problem_type is None:
            return learned
        return rules

    def train(self, examples: Sequence[Example], at: datetime) -> dict[str, Any]:
        """Train on people-given types (in the order given: same examples, same model).
        Types no longer in the catalogue are left out. Too few examples, or one type only:
        no model, and the rules alone propose."""
        usable = [e for e in examples if e.problem_type in self.catalogue.types]
        counts = Counter(e.problem_type for e in usable)
        with self._lock:
            if len(usable) < self.min_examples or len(counts) < 2:
                self._model = None
                reason = (f"{len(usable)} labelled examples of {len(counts)} types; the model "
                          f"needs at least {self.min_examples} of 2 or more types")
                self.status = {"trained": False, "examples": len(usable),
                               "types": dict(sorted(counts.items())), "trained_at": None,
                               "reason": reason}
                return self.status
            # Imported when first needed: scikit-learn, SciPy and jieba's dictionary are
            # ~130 MiB of the service's memory, and most deployments train no model.
            from services.incidents.intake.model import TypeModel

            self._model = TypeModel([e.text for e in usable], [e.problem_type for e in usable])
            self.status = {"trained": True, "examples": len(usable),
                           "types": dict(sorted(counts.items())), "trained_at": at,
                           "reason": f"trained on {len(usable)} labelled examples"}
            return self.status


def _plain(guess: Guess) -> dict[str, Any]:
    return {"method": guess.method, "problem_type": guess.problem_type,
            "confidence": guess.confidence, "reasons": list(guess.reasons)}
