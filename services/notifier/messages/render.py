"""Render a notification for a medium ("chat", "email", "sms", "webhook") in a language.

Templates (templates.py) give each part: `subject`, `markdown` for chat robots, `text` for
SMS and mail, `html` for mail. An operator's template that fails to render is replaced by
the shipped one and the failure is said on the message; should even that fail, the plain
form below is sent: a page is never lost to a template."""
from __future__ import annotations

import html
import logging
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from services.notifier.channels.base import Notification
from services.notifier.messages.context import template_context
from services.notifier.messages.drill import drill_marked
from services.notifier.messages.model import Message
from services.notifier.messages.templates import MEDIA, SHIPPED, TemplateSet, check_overrides

log = logging.getLogger(__name__)
PARTS = ("subject", "text", "markdown", "html")


class Renderer:
    """The shipped templates, under an operator's directory when there is one (checked
    here: a template that does not compile raises TemplateRefused)."""

    def __init__(self, overrides: str | Path | None = None) -> None:
        self.overrides = Path(overrides) if overrides else None
        self.overridden = check_overrides(self.overrides) if self.overrides else []
        self.shipped = TemplateSet([SHIPPED])
        self.templates = (TemplateSet([self.overrides, SHIPPED], self.overrides)
                          if self.overrides else self.shipped)

    def render(self, notification: Notification, medium: str, language: str = "zh", *,
               ack_url: str | None = None, public_url: str | None = None,
               now: datetime | None = None, time_zone: str | None = None) -> Message:
        return drill_marked(notification, self._render(
            notification, medium, language, ack_url=ack_url, public_url=public_url, now=now,
            time_zone=time_zone), language)

    def _render(self, notification: Notification, medium: str, language: str, *,
                ack_url: str | None, public_url: str | None, now: datetime | None,
                time_zone: str | None) -> Message:
        if medium not in MEDIA:  # webhooks send the notification's JSON, not a text
            return plain(notification, ack_url)
        written = (notification.about or {}).get("message")
        if written:  # a digest: rendered once when sent, in its reader's language (digest.py)
            return Message(**written)
        at = now or notification.occurred_at
        ack_url = ack_url if ack_url is not None else getattr(notification, "ack_url", None)

        def attempt(templates: TemplateSet) -> Message:
            name, family = templates.find(notification.reason, medium, language)
            context = template_context(notification, medium, language, family=family,
                                       ack_url=ack_url, public_url=public_url, now=at,
                                       time_zone=time_zone)
            return parts(templates, name, context, medium)

        try:
            return attempt(self.templates)
        except Exception as error:  # an override's mistake, or a fact no template expected
            failure = f"{type(error).__name__}: {error}"
        if self.templates is not self.shipped:
            try:
                message = replace(attempt(self.shipped), fallback_reason=failure)
                log.warning("delivery %s: template for %s %s %s failed (%s); the shipped one "
                            "was sent", notification.delivery_id, language, notification.reason,
                            medium, failure)
                return message
            except Exception as error:
                failure = f"{failure}; shipped: {type(error).__name__}: {error}"
        log.error("delivery %s: no template rendered %s %s %s (%s); the plain form was sent",
                  notification.delivery_id, language, notification.reason, medium, failure)
        return replace(plain(notification, ack_url), fallback_reason=failure)


def parts(templates: TemplateSet, name: str, context: dict[str, Any], medium: str) -> Message:
    found = _blocks(templates, name, False, context)
    subject = found.get("subject", "").strip()
    markdown = found.get("markdown") or found.get("text") or found.get("body", "")
    text = found.get("text") or markdown
    if medium == "email":
        page = _blocks(templates, name, True, context).get("html")
    else:
        page = None
    return Message(subject=subject, text=text.strip(), markdown=markdown.strip(),
                   html=(page or "<br>".join(html.escape(line)
                                             for line in text.strip().splitlines())).strip(),
                   template=templates.origin(name))


def _blocks(templates: TemplateSet, name: str, html: bool,
            context: dict[str, Any]) -> dict[str, str]:
    """Each part the template (or one it extends) defines, rendered on its own, with the
    blocks of its `extends` chain registered as Jinja does (nearest first). A template that
    defines no part is all `body`: its full render."""
    template, chain = templates.get(name, html), templates.chain(name, html)
    ctx = template.new_context(context)
    if chain is None:  # a dynamic `extends`: a full render registers the chain
        for _ in template.root_render_func(ctx):
            pass
    else:
        ctx.blocks = {}
        for link in chain:
            for block, function in link.blocks.items():
                ctx.blocks.setdefault(block, []).append(function)
    found = {part: "".join(ctx.blocks[part][0](ctx)) for part in PARTS if part in ctx.blocks}
    if not found:
        found["body"] = "".join(template.root_render_func(ctx))
    return found


def plain(notification: Notification, ack_url: str | None = None) -> Message:
    """What every medium falls back to: no template, nothing that can fail."""
    incident = notification.incident
    subject = f"[{incident.get('severity', '')}] {incident.get('ref') or ''} " \
              f"{incident.get('title', '')}".strip()
    lines = [subject, f"{notification.reason} · {incident.get('entity', '')}"]
    if ack_url:
        lines.append(ack_url)
    text = "\n".join(lines)
    return Message(subject=subject, text=text, markdown=text,
                   html="<br>".join(html.escape(line) for line in lines), template="plain")


_installed: Renderer | None = None


def install(renderer: Renderer) -> None:
    """Make this the renderer `render()` uses: the notifier's start-up installs its
    settings' one (create_app), so channels calling `render()` send operators' templates."""
    global _installed
    _installed = renderer


def render(notification: Notification, medium: str, language: str = "zh", *,
           ack_url: str | None = None, public_url: str | None = None,
           now: datetime | None = None, renderer: Renderer | None = None,
           time_zone: str | None = None) -> Message:
    """With the renderer given, else the one installed at start-up, else the shipped
    templates alone."""
    if renderer is None:
        if _installed is None:
            install(Renderer())
        renderer = _installed
    return renderer.render(notification, medium, language, ack_url=ack_url,
                           public_url=public_url, now=now, time_zone=time_zone)
