"""What a chat robot's answer says. DingTalk, WeCom and Feishu/Lark robots answer HTTP 200 to
a message they refuse (a keyword or signature check failing, a frequency limit) and put the
refusal in the JSON body, which Apprise mostly does not read: a message nobody saw would
otherwise count as delivered. One table says, per kind, where the verdict is and which codes
are worth trying again."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from services.notifier.domain.common import ChannelKind


@dataclass(frozen=True)
class Robot:
    # (code field, message field) pairs the verdict may be in; a code of 0 is "accepted".
    fields: tuple[tuple[str, str], ...]
    # Codes that say "not now" (a frequency limit, a busy service): worth the bounded retries.
    # Every other code meets the same message again (a failed keyword, IP or signature check,
    # a token gone, a body refused) and is fixed by editing the channel, not by waiting.
    retryable: frozenset[int]


ROBOTS: dict[ChannelKind, Robot] = {
    # 130101: more than 20 messages a minute; 410100: sending too fast, throttled; -1: busy.
    ChannelKind.DINGTALK: Robot((("errcode", "errmsg"),), frozenset({130101, 410100, -1})),
    # 45009: the API's frequency limit (20 messages a minute per robot); -1: system busy.
    ChannelKind.WECOM: Robot((("errcode", "errmsg"),), frozenset({45009, -1})),
    # Today's answer is {"code", "msg"}; older hooks answered {"StatusCode", "StatusMessage"}.
    # 11232: frequency limited.
    ChannelKind.FEISHU: Robot((("code", "msg"), ("StatusCode", "StatusMessage")),
                              frozenset({11232})),
}
# A robot's URL on the `apprise` kind (which takes any Apprise URL) is read as its robot's.
SCHEMES = {"dingtalk": ChannelKind.DINGTALK, "wecombot": ChannelKind.WECOM,
           "feishu": ChannelKind.FEISHU, "lark": ChannelKind.FEISHU}
# A robot's message is shown to managers: one short line, whatever it sent.
MESSAGE_CHARS = 200
# URL parts this long or longer are treated as credentials when scrubbing a robot's message.
SECRET_CHARS = 4


@dataclass(frozen=True)
class Refusal:
    field: str  # where the code was: errcode, code, StatusCode
    code: int | str
    message: str  # the robot's own words, the channel's credentials taken out
    retryable: bool

    def describe(self, kind: ChannelKind) -> str:
        said = f" ({self.message})" if self.message else ""
        return f"the {kind} robot refused the message: {self.field} {self.code}{said}"


def refusal(kind: ChannelKind, head: bytes, url: str) -> Refusal | None:
    """The robot's refusal in the start of its answer, or None (accepted, not a robot kind, or
    an answer that is not the robot's JSON: the HTTP status then says all there is)."""
    if kind is ChannelKind.APPRISE:
        kind = SCHEMES.get(url.split("://", 1)[0].lower(), kind)
    robot = ROBOTS.get(kind)
    if robot is None:
        return None
    try:
        answer = json.loads(head)
    except ValueError:  # not JSON, not UTF-8, or cut at the bound
        return None
    if not isinstance(answer, dict):
        return None
    for code_field, message_field in robot.fields:
        code = answer.get(code_field)
        if code is None or isinstance(code, bool) or code in (0, "0"):
            continue
        number = _number(code)
        return Refusal(code_field, number if number is not None else scrub(str(code), url)[:40],
                       scrub(str(answer.get(message_field) or ""), url),
                       number in robot.retryable)
    return None


def scrub(text: str, url: str) -> str:
    """The text as one bounded line without any part of the channel's URL that could be a
    credential (a robot may echo the token it was given)."""
    for part in sorted(_url_parts(url), key=len, reverse=True):
        text = text.replace(part, "****")
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def _url_parts(url: str) -> set[str]:
    after_scheme = url.split("://", 1)[-1]
    parts = set(re.split(r"[/:@?&=#]+", after_scheme))
    parts |= {unquote(p) for p in parts}
    return {p for p in parts if len(p) >= SECRET_CHARS}


def _number(code: object) -> int | None:
    if isinstance(code, int):
        return code
    try:
        return int(str(code))
    except ValueError:
        return None
