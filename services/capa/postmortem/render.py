"""The postmortem as a document: Markdown or HTML from sandboxed Jinja2 templates (one set
per language under templates/), and PDF from that HTML (pdf.py)."""
from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

FORMATS = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8",
           "pdf": "application/pdf"}
LANGUAGES = ("zh", "en")
TEMPLATES = Path(__file__).parent / "templates"
_UNITS = {"zh": ("天", "小时", "分钟"), "en": (" d", " h", " min")}


def render(document: dict[str, Any], fmt: str, lang: str, kind: str = "postmortem") -> bytes:
    """`kind`: "postmortem" (a CAPA case) or "systemic" (a systemic problem)."""
    if fmt == "pdf":
        from services.capa.postmortem.pdf import html_to_pdf  # WeasyPrint loads only for PDFs

        return html_to_pdf(render(document, "html", lang, kind).decode())
    template = _environment(fmt == "html").get_template(f"{lang}/{kind}.{fmt}.j2")
    return template.render(pm=document, lang=lang).encode()


@cache
def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    # Sandboxed: case text comes from people, and operators may edit the templates one day.
    env = ImmutableSandboxedEnvironment(loader=FileSystemLoader(TEMPLATES), autoescape=html,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True)
    env.filters.update(when=when, duration=duration, cell=cell)
    return env


def when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def duration(minutes: int | None, lang: str) -> str:
    if minutes is None:
        return "—"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    d, h, m = _UNITS[lang]
    parts = [f"{days}{d}" if days else "", f"{hours}{h}" if hours else "",
             f"{mins}{m}" if mins or not (days or hours) else ""]
    return ("" if lang == "zh" else " ").join(p for p in parts if p)


def cell(value: Any) -> str:
    """Text fit for one Markdown table cell or list line: no pipes, no line breaks."""
    return " ".join(str(value if value is not None else "—").split()).replace("|", "\\|")
