"""What the API shows of the quiet rules (the same shapes the read model's rows have)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.quiet.routes import Routes
from services.notifier.quiet.silences import Silence
from services.notifier.quiet.tree import Route


def routes_view(tree: Route, stored: Routes | None) -> dict[str, Any]:
    return {"tree": tree.spec(), "default": stored is None,
            "version": stored.version if stored is not None else 0,
            "updated_at": stored.updated_at if stored is not None else None,
            "updated_by": stored.updated_by if stored is not None else None}


def silence_view(silence: Silence, at: datetime) -> dict[str, Any]:
    return {"id": silence.id, "matchers": list(silence.matchers),
            "starts_at": silence.starts_at, "ends_at": silence.ends_at,
            "created_by": silence.created_by, "comment": silence.comment,
            "state": str(silence.state(at)), "expired_by": silence.expired_by,
            "created_at": silence.created_at, "updated_at": silence.updated_at}


def rule_view(rule: Any) -> dict[str, Any]:
    """A maintenance window or an inhibition rule: its definition and who changed it."""
    return {"id": rule.id, **rule.definition, "created_at": rule.created_at,
            "created_by": rule.created_by, "updated_at": rule.updated_at,
            "updated_by": rule.updated_by}
