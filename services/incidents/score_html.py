"""The satisfaction pages a requester's browser sees: small, self-contained HTML (no scripts,
no external resources), every value escaped; the look of the acknowledge pages."""
from __future__ import annotations

from typing import Any

from services.incidents.ack_html import _clock, _e, _page

_FACES = {1: "很不满意 very unhappy", 2: "不满意 unhappy", 3: "一般 neutral",
          4: "满意 happy", 5: "很满意 very happy"}


def _summary(incident: dict[str, Any]) -> str:
    return (f"<h1>{_e(incident['ref'])}</h1><p>{_e(incident['title'])}<br>"
            f"<span class=\"muted\">{_e(incident['entity'])} · "
            f"{_e(incident['status_label'])}</span></p>")


def score_form(read: Any) -> str:
    """GET: how was the help? 1–5 and a comment."""
    choices = "".join(f'<label><input type="radio" name="score" value="{n}" required> '
                      f"{n} · {_e(face)}</label><br>" for n, face in _FACES.items())
    body = (f"{_summary(read.incident)}<p>How satisfied are you with how it was handled? "
            f"您对本次处理满意吗？</p><form method=\"post\">{choices}"
            '<p><textarea name="comment" rows="3" cols="40" maxlength="4000" '
            'placeholder="comment 意见"></textarea></p>'
            '<button type="submit">Send 提交</button></form>'
            f'<p class="muted">This link is for {_e(read.person)}, works once, and expires at '
            f"{_clock(read.expires_at)}.</p>")
    return _page(f"Rate {read.incident['ref']}", body)


def score_thanks(read: Any) -> str:
    score = read.score or {}
    return _page(read.incident["ref"], f"{_summary(read.incident)}<p>Thank you: your score "
                 f"{_e(score.get('score'))}/5 is recorded. 感谢您的评价。</p>")


def score_refusal(detail: str) -> str:
    return _page("Link refused", f"<h1>This link cannot be used</h1><p>{_e(detail)}</p>")
