"""Label matchers with Alertmanager's syntax and meaning: `name=value`, `!=`, `=~`, `!~`,
quoted values with OpenMetrics escapes (`\\"`, `\\n`, `\\\\`), and the set form
`{a="b", c=~"d.*"}`. A regex is anchored at both ends; a missing label is the empty string."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from shared.errors import Invalid

MAX_MATCHER = 1024  # characters in one matcher: regexes are run against every alert

# Alertmanager's classic parser: a Prometheus label name, an operator, a raw value.
# '=~' comes before '=' so the '~' is not taken as the start of the value.
MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Constructs Python's re accepts and Go's RE2 refuses (Alertmanager compiles with RE2): a
# matcher accepted here must mean the same there, and these are the ones that backtrack.
NOT_RE2 = [
    (re.compile(r"\\[1-9]"), "backreferences (\\1)"),
    (re.compile(r"\(\?P="), "named backreferences ((?P=name))"),
    (re.compile(r"\(\?<?[=!]"), "lookarounds ((?=, (?!, (?<=, (?<!)"),
    (re.compile(r"\(\?>"), "atomic groups ((?>...))"),
    (re.compile(r"\(\?\("), "conditionals ((?(1)...))"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers (a*+)"),
]
REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")
MAX_REPEAT = 1000


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    def matches_value(self, value: str) -> bool:
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        found = self._regex.fullmatch(value) is not None  # type: ignore[union-attr]
        return found if self.type is MatchType.REGEX else not found

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.matches_value(labels.get(self.name, ""))

    def __str__(self) -> str:
        """The canonical form, as Alertmanager prints it (and parses back to the same)."""
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.type}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def parse_matchers(text: str, field_name: str = "matchers") -> list[Matcher]:
    """A comma-separated list, optionally in braces; commas inside quotes do not separate."""
    body = text.strip()
    body = body[1:] if body.startswith("{") else body
    body = body[:-1] if body.endswith("}") else body
    return [parse_matcher(token, field_name) for token in split_outside_quotes(body)]


def split_outside_quotes(body: str) -> list[str]:
    tokens, token, quoted, escaped = [], [], False, False
    for char in body:
        if char == "," and not quoted:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            quoted = quoted if escaped else not quoted
            escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def parse_matcher(text: str, field_name: str = "matchers") -> Matcher:
    if len(text) > MAX_MATCHER:
        raise Invalid(field_name, f"a matcher has at most {MAX_MATCHER} characters")
    return _parse(text, field_name)


@lru_cache(maxsize=4096)  # the same few matchers are parsed again with every reload
def _parse(text: str, field_name: str) -> Matcher:
    found = MATCHER.match(text)
    if not found:
        raise Invalid(field_name, f"{text.strip()!r} is not a matcher: write label=value, "
                      'label!=value, label=~"regex" or label!~"regex"')
    name, operator, raw = found.groups()
    value = unescape(raw, text, field_name)
    return new_matcher(name, MatchType(operator), value, field_name)


def unescape(raw: str, text: str, field_name: str) -> str:
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    value, escaped, closed = [], False, False
    for i, char in enumerate(raw):
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
        elif char == "\\" and i < len(raw) - 1:
            escaped = True
        elif char == '"':
            if not quoted or i < len(raw) - 1:
                raise Invalid(field_name, f"{text.strip()!r}: a double quote inside the value "
                              'must be escaped as \\"')
            closed = True
        else:
            value.append(char)
    if quoted and not closed:
        raise Invalid(field_name, f"{text.strip()!r}: the value's opening quote is never closed")
    return "".join(value)


def new_matcher(name: str, type_: MatchType, value: str, field_name: str = "matchers") -> Matcher:
    if type_ not in (MatchType.REGEX, MatchType.NOT_REGEX):
        return Matcher(name, type_, value)
    for pattern, what in NOT_RE2:
        if pattern.search(value):
            raise Invalid(field_name, f'{name}{type_}"{value}": {what} are not supported '
                          "(matchers use RE2 syntax, as in Alertmanager)")
    if any(int(n or 0) > MAX_REPEAT for pair in REPEAT.findall(value) for n in pair):
        raise Invalid(field_name, f'{name}{type_}"{value}": a repeat count is at most '
                      f"{MAX_REPEAT} (as in RE2)")
    try:
        compiled = re.compile(f"(?:{value})")
    except (re.error, OverflowError, RecursionError) as error:
        raise Invalid(field_name, f'{name}{type_}"{value}": not a valid regex ({error})') from None
    return Matcher(name, type_, value, compiled)


def canonical(matchers: Iterable[Matcher]) -> list[str]:
    return [str(m) for m in matchers]


def parse_list(items: str | Iterable[str], field_name: str = "matchers") -> list[Matcher]:
    """Matchers given as one string (the set form) or a list of strings, each of which may
    hold several; errors name the item (`matchers[2]`)."""
    if isinstance(items, str):
        return parse_matchers(items, field_name)
    return [m for i, item in enumerate(items) for m in parse_matchers(item, f"{field_name}[{i}]")]


def check_label_names(names: Iterable[str], field_name: str) -> list[str]:
    checked = list(names)
    for i, name in enumerate(checked):
        if not LABEL_NAME.match(name):
            raise Invalid(f"{field_name}[{i}]", f"{name!r} is not a label name "
                          "(letters, digits and _; not starting with a digit)")
    if len(set(checked)) != len(checked):
        raise Invalid(field_name, "a label is listed twice")
    return checked
