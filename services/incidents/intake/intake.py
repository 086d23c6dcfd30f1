"""What a declared incident records of its intake: the source, the report, the proposal, and
whether a person gave the type (a label the learned classifier trains on)."""
from __future__ import annotations

from typing import Any

from shared.contracts.vocabulary import Severity

from services.incidents.intake.classifier import Classifier, report_text
from services.incidents.intake.rules import guess_severity


def classify_declared(classifier: Classifier, body: Any) -> tuple[Severity, dict[str, Any]]:
    """The severity to open with and the intake record. What the person gave wins over the
    proposal; a given type or severity unlike the proposal is a correction. An unknown
    problem type is refused before anything is recorded."""
    classifier.catalogue.check_type(body.problem_type)
    text = report_text(body.title, body.summary, body.description)
    proposal = classifier.propose(text)
    severity = body.severity or Severity(proposal["severity"])
    if body.problem_type and not body.severity:  # the given type's severity, not the guessed one's
        severity = guess_severity(classifier.catalogue, text, body.problem_type, 1.0)[0]
    problem_type = body.problem_type or proposal["problem_type"]
    corrected = [name for name, given in (("problem_type", body.problem_type),
                                          ("severity", body.severity))
                 if given is not None and str(given) != proposal[name]]
    return severity, {
        "source": str(body.source) if body.source else None,
        "problem_type": problem_type, "description": body.description,
        "attachments": [str(link) for link in body.attachments],
        "proposal": proposal, "labelled": body.problem_type is not None,
        "corrected": corrected,
    }
