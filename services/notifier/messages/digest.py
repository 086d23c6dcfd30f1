"""A digest rendered for every medium in the recipient's language: chat markdown (and the
plain text drawn from the same template), and the email's HTML. Templates live beside this
module (digest_templates/<language>/digest.<form>.j2, apart from the per-reason
templates: a digest is a list of incidents, not one notification) and run in Jinja's sandbox, with HTML
escaped in the email form: incident titles come from alert rules, not from us."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from services.notifier.messages.model import Message

TEMPLATES = Path(__file__).parent / "digest_templates"
LANGUAGES = ("zh", "en")
SUBJECTS = {
    "zh": {"daily": "日报汇总", "weekly": "周报汇总"},
    "en": {"daily": "Daily digest", "weekly": "Weekly digest"},
}


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
        autoescape=lambda name: bool(name) and name.endswith(".email.j2"),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


def digest_message(content: dict[str, Any], language: str = "zh") -> Message:
    """`content`: digests/content.py's document. An unknown language reads Chinese."""
    language = language if language in LANGUAGES else "zh"
    counts = content["counts"]
    subject = (f"{SUBJECTS[language][content['every']]} {content['period']['end'][:10]} · "
               + (f"{counts['fired']} 新 / {counts['open']} 未关闭 / {counts['closed']} 已关闭"
                  if language == "zh" else
                  f"{counts['fired']} fired / {counts['open']} open / {counts['closed']} closed"))
    values = {"d": content, "subject": subject}
    env = environment()
    chat = env.get_template(f"{language}/digest.chat.j2")
    email = env.get_template(f"{language}/digest.email.j2")
    return Message(subject=subject, text=chat.render(**values, plain=True).strip(),
                   markdown=chat.render(**values, plain=False).strip(),
                   html=email.render(**values).strip(), template=f"{language}/digest")
