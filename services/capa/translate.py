"""Which CAPA domain events the rest of the loop hears about, as public contracts."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.capa.domain import CapaCase
from shared.bus.relay import translator
from shared.contracts import CapaActionVerified, CapaClosed, CapaOpened, Contract


def _opened(e: Any) -> Contract:
    return CapaOpened(capa_id=str(e.originator_id), incident_id=e.incident_id, ref=e.ref,
                      title=e.title, at=e.at)


def _action_verified(e: Any) -> Contract:
    return CapaActionVerified(capa_id=str(e.originator_id), incident_id=e.incident_id,
                              action_id=e.action_id, kind=e.kind, owner=e.owner,
                              verifier=e.actor, at=e.at)


def _closed(e: Any) -> Contract:
    return CapaClosed(capa_id=str(e.originator_id), incident_id=e.incident_id, ref=e.ref,
                      root_cause=e.root_cause, actions=e.actions, at=e.at)


# Root cause revisions, new actions, completions and reopenings stay private.
_PUBLIC: dict[type, Callable[[Any], Contract]] = {
    CapaCase.Opened: _opened,
    CapaCase.ActionVerified: _action_verified,
    CapaCase.Closed: _closed,
}

to_contract = translator(_PUBLIC)
