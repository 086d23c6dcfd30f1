"""The demo's story as a person reads it at the end: the incident's timeline from the signal
to the actions that closed it, then what each channel was sent."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from closedloop.demo_messages import print_message


def _line(at: str, action: str, actor: str, detail: str) -> str:
    return f"{at[11:23]:<12}  {action:<24} {actor:<28} {detail}"


def print_timeline(incident: dict[str, Any], say: Callable[[str], None] = print,
                   alert: dict[str, Any] | None = None, capa: dict[str, Any] | None = None) -> None:
    """The story as a person wants to read it: the signal, the incident's own timeline (rebuilt
    from its event log), then the analysis and the actions that closed it."""
    say(f"Timeline of {incident['ref']} — {incident['title']} ({incident['severity']}, "
        f"status {incident['status']} {incident.get('status_label', '')})".rstrip())
    say("-" * 110)
    if alert:
        say(_line(alert["started_at"], "sample", "detector",
                  f"{alert['entity']} reported {alert['value']:g}"))
        say(_line(alert["started_at"], "alert raised", "detector", alert["summary"]))
    for entry in incident["timeline"]:
        say(_line(entry["at"], entry["action"], entry["actor"], entry["detail"]))
    if not capa:
        return
    cause = capa.get("root_cause") or {}
    say("")
    say(f"Root cause ({cause.get('method')}, {cause.get('category') or 'no category'}): "
        f"{cause.get('statement')}")
    for number, why in enumerate(cause.get("whys") or [], 1):
        say(f"  why {number}: {why}")
    say("Actions:")
    for action in capa.get("actions", []):
        say(f"  {action['id']} {action['kind']:<10} {action['title']} — owner {action['owner']}, "
            f"done by {action['completed_by']}, verified by {action['verifier']} "
            f"({action['status']})")
        say(f"       acceptance: {action['acceptance_criteria']}")


def print_pages(pages: list[dict[str, Any]], say: Callable[[str], None] = print) -> None:
    say("")
    say("What was sent (as each channel rendered it):")
    for page in pages:
        print_message(page["heading"], page["message"], say)
