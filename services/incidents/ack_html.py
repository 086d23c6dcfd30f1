"""The one-click acknowledge pages a browser sees: small, self-contained HTML (no scripts, no
external resources), every value escaped."""
from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import Any

_STYLE = ("body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:2rem auto;"
          "padding:0 1rem;color:#1d1d1f}h1{font-size:1.3rem}.muted{color:#6e6e73}"
          "button{font-size:1.1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:0;"
          "background:#0a66c2;color:#fff;cursor:pointer}")


def confirmation(read: Any) -> str:
    """GET: what will be acknowledged, as whom, and the button that does it."""
    incident = read.incident
    if incident.acknowledged_by:
        action = "Confirm I have read it"
        state = (f"{_e(incident.acknowledged_by)} acknowledged it at "
                 f"{_clock(incident.acknowledged_at)}. Confirming records that you read the page.")
    else:
        action = f"Acknowledge as {_e(read.person)}"
        state = "Nobody has acknowledged it yet."
    body = (f"{_summary(incident)}<p>{state}</p>"
            f'<form method="post"><button type="submit">{action}</button></form>'
            f'<p class="muted">This link is for {_e(read.person)} only, works once, and '
            f"expires at {_clock(read.expires_at)}.</p>")
    return _page(f"Acknowledge {incident.ref}", body)


def outcome(read: Any) -> str:
    """POST: what the click did."""
    incident = read.incident
    if read.acknowledged:
        said = f"You ({_e(read.person)}) acknowledged {_e(incident.ref)}: it is yours now."
    elif incident.acknowledged_by:
        said = (f"{_e(incident.acknowledged_by)} had acknowledged {_e(incident.ref)} already; "
                f"your read is recorded on its timeline.")
    else:
        said = (f"{_e(incident.ref)} can no longer be acknowledged ({_e(incident.status_label)});"
                f" your read is recorded on its timeline.")
    return _page(f"{incident.ref}", f"{_summary(incident)}<p>{said}</p>")


def refusal(detail: str) -> str:
    return _page("Link refused", f"<h1>This link cannot be used</h1><p>{_e(detail)}</p>")


def _summary(incident: Any) -> str:
    return (f"<h1>[{_e(incident.severity)}] {_e(incident.ref)}</h1>"
            f"<p>{_e(incident.title)}<br><span class=\"muted\">{_e(incident.entity)} · "
            f"{_e(incident.status)} ({_e(incident.status_label)})</span></p>")


def _page(title: str, body: str) -> str:
    return ('<!doctype html><html><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{_e(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def _clock(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if at else "—"


def _e(value: Any) -> str:
    return escape(str(value))
