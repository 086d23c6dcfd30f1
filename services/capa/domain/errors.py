"""The rules a CAPA case can refuse a command with; each message names the rule and the fix."""
from __future__ import annotations

from shared.errors import DomainError, Invalid, NotFound


class CapaNotFound(NotFound):
    """No CAPA case has this id."""


class ActionNotFound(NotFound):
    """The case has no action with this id."""


class InvalidCapaInput(Invalid):
    """A root cause or action whose content breaks a rule (names the field)."""


class CaseClosed(DomainError):
    """A closed case accepts no new root cause, actions, completions or verifications."""


class EffectivenessPending(DomainError):
    """The fix is being watched (or not yet ready to be): the case cannot do this now."""


class NotTheOwner(DomainError):
    """Only an action's owner (or a manager) may complete it."""


class ActionAlreadyCompleted(DomainError):
    """An action is completed once; an ineffective verification reopens it."""


class ActionNotCompleted(DomainError):
    """Only a completed action can be verified."""


class VerifierIsOwner(DomainError):
    """Verification needs someone other than the action's owner (and its completer)."""


class NotTheVerifier(DomainError):
    """An action planned with its verifier named is verified by that person only."""
