"""The capa domain: the CAPA case aggregate and its vocabulary (no I/O; time arrives as an
`at` argument)."""
from services.capa.domain.case import NAMESPACE, CapaCase
from services.capa.domain.errors import (
    ActionAlreadyCompleted, ActionNotCompleted, ActionNotFound, CapaNotFound, CaseClosed,
    EffectivenessPending, InvalidCapaInput, NotTheOwner, VerifierIsOwner,
)
from services.capa.domain.vocabulary import (
    MAX_WHYS, Action, ActionKind, ActionStatus, CaseStatus, Category, RcaMethod, RootCause,
)

__all__ = [
    "NAMESPACE", "MAX_WHYS", "CapaCase", "Action", "RootCause", "ActionKind", "ActionStatus",
    "CaseStatus", "Category", "RcaMethod", "CapaNotFound", "ActionNotFound", "InvalidCapaInput",
    "CaseClosed", "NotTheOwner", "ActionAlreadyCompleted", "ActionNotCompleted",
    "VerifierIsOwner", "EffectivenessPending",
]
