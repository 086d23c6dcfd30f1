"""Which way a resolved incident closes (docs/adr/closing-paths.md): through a CAPA case
(`required`), by a person's resolution note or a CAPA they choose to open (`optional`), or by
itself once its alert stayed clear for an observation window (`observe`, the seeds' P2
门店自主解决, 持续观察1–2周). A false positive closes at once, whatever the severity."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from shared.contracts.vocabulary import Severity
from shared.durations import parse_length
from shared.errors import Invalid


class ClosingPath(StrEnum):
    REQUIRED = "required"        # a CAPA case opens and closes the incident
    OPTIONAL = "optional"        # a person closes it with a note, or opens a CAPA case
    OBSERVE = "observe"          # closes by itself when the alert stayed clear N days
    FALSE_POSITIVE = "false_positive"  # the alert should not have fired: closed at resolution

    @property
    def needs_capa(self) -> bool:
        return self is ClosingPath.REQUIRED


@dataclass(frozen=True)
class Closing:
    """The path one resolution takes, with the observation window when it observes."""

    path: ClosingPath
    observe: timedelta | None = None


DEFAULT_CLOSING_PATHS = "P0=required,P1=required,P2=observe:7d,P3=optional"


@dataclass(frozen=True)
class ClosingPolicy:
    """Severity → path. A severity not listed needs a CAPA (the safe side)."""

    paths: dict[str, Closing] = field(default_factory=lambda: parse_closing_paths(
        DEFAULT_CLOSING_PATHS).paths)

    def closing_for(self, severity: str, verdict: str, observations_failed: int = 0) -> Closing:
        """A false positive closes at once. A self-fix whose observation failed does not get
        a second one: the next resolution needs a CAPA case (it did not hold; find out why)."""
        if verdict == "false_positive":
            return Closing(ClosingPath.FALSE_POSITIVE)
        closing = self.paths.get(str(severity), Closing(ClosingPath.REQUIRED))
        if closing.path is ClosingPath.OBSERVE and observations_failed:
            return Closing(ClosingPath.REQUIRED)
        return closing


def parse_closing_paths(text: str) -> ClosingPolicy:
    """`P0=required,P1=required,P2=observe:7d,P3=optional` → the policy; refuses what it
    cannot read, naming the item and the fix."""
    paths: dict[str, Closing] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        severity, _, rule = (piece.strip() for piece in item.partition("="))
        if severity not in list(Severity):
            raise Invalid("closing_paths", f"{item!r}: {severity!r} is not one of "
                          f"{', '.join(Severity)}")
        path, _, length = rule.partition(":")
        if path not in (ClosingPath.REQUIRED, ClosingPath.OPTIONAL, ClosingPath.OBSERVE):
            raise Invalid("closing_paths", f"{item!r}: the path must be required, optional or "
                          "observe:<length>, e.g. P2=observe:7d")
        if path != ClosingPath.OBSERVE:
            if length:
                raise Invalid("closing_paths", f"{item!r}: only observe takes a length")
            paths[severity] = Closing(ClosingPath(path))
            continue
        window = parse_length(length)
        if window is None:
            raise Invalid("closing_paths", f"{item!r}: observe needs a positive length in s, "
                          "m, h or d, e.g. P2=observe:7d")
        paths[severity] = Closing(ClosingPath.OBSERVE, window)
    return ClosingPolicy(paths)
