"""The problem types manual intake classifies into, read from a YAML file: each type's names,
the severity it proposes, and the keywords and patterns that point to it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.contracts.vocabulary import Severity
from shared.errors import Invalid

DEFAULT_FILE = Path(__file__).with_name("problem_types.yaml")
_TYPE_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")


class CatalogueError(ValueError):
    """The problem-types file cannot be used; the message names the entry at fault."""


@dataclass(frozen=True)
class Cues:
    """Words and patterns that point to something. ASCII keywords match whole words (so
    "app" is not found in "happy"); others, such as Chinese, match anywhere."""

    keywords: tuple[tuple[str, float], ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    _words: tuple[tuple[str, float, re.Pattern[str] | None], ...] = field(default=(), repr=False)

    @classmethod
    def read(cls, where: str, entry: dict[str, Any]) -> "Cues":
        keywords = []
        for item in entry.get("keywords") or []:
            word, weight = (item, 1.0) if not isinstance(item, dict) else (
                item.get("word"), float(item.get("weight", 1.0)))
            if not isinstance(word, (str, int)) or not str(word).strip():
                raise CatalogueError(f"{where}.keywords: {item!r} is not a word")
            keywords.append((str(word).strip().lower(), weight))
        patterns = []
        for text in entry.get("patterns") or []:
            try:
                patterns.append(re.compile(str(text), re.IGNORECASE))
            except re.error as exc:
                raise CatalogueError(f"{where}.patterns: {text!r} is not a regular "
                                     f"expression ({exc})") from exc
        words = tuple((word, weight, re.compile(rf"\b{re.escape(word)}\b")
                       if word.isascii() else None) for word, weight in keywords)
        return cls(tuple(keywords), tuple(patterns), words)

    def hits(self, text: str) -> list[tuple[str, float]]:
        """(what matched, its weight) for each keyword and pattern found in `text`."""
        lowered = text.lower()
        found = [(word, weight) for word, weight, whole in self._words
                 if (whole.search(lowered) if whole else word in lowered)]
        for pattern in self.patterns:
            match = pattern.search(text)
            if match:
                found.append((match.group(0), 2.0))
        return found


@dataclass(frozen=True)
class ProblemType:
    id: str
    name_zh: str
    name_en: str
    severity: Severity
    cues: Cues


@dataclass(frozen=True)
class Catalogue:
    types: dict[str, ProblemType]
    severity_cues: dict[Severity, Cues]
    default_severity: Severity

    def check_type(self, problem_type: str | None, field_name: str = "problem_type") -> None:
        if problem_type is not None and problem_type not in self.types:
            raise Invalid(field_name, f"unknown problem type {problem_type!r}; use one of "
                                      f"{', '.join(sorted(self.types))} (GET /v1/intake/problem-types)")


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    path = Path(path) if path else DEFAULT_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: cannot be read as YAML ({exc})") from exc
    return parse_catalogue(data)


def parse_catalogue(data: Any) -> Catalogue:
    if not isinstance(data, dict) or not isinstance(data.get("types"), list) or not data["types"]:
        raise CatalogueError("types: a list of problem types is required")
    types: dict[str, ProblemType] = {}
    for n, entry in enumerate(data["types"]):
        where = f"types.{n}"
        if not isinstance(entry, dict) or not _TYPE_ID.fullmatch(str(entry.get("id", ""))):
            raise CatalogueError(f"{where}.id: a lower-case id such as supplier_delay is required")
        if entry["id"] in types:
            raise CatalogueError(f"{where}.id: {entry['id']} is listed twice")
        names = entry.get("name") or {}
        types[entry["id"]] = ProblemType(
            id=entry["id"], name_zh=str(names.get("zh", entry["id"])),
            name_en=str(names.get("en", entry["id"])),
            severity=_severity(f"{where}.severity", entry.get("severity", "P3")),
            cues=Cues.read(where, entry))
    cues = {_severity(f"severity_cues.{level}", level): Cues.read(f"severity_cues.{level}", entry)
            for level, entry in (data.get("severity_cues") or {}).items()}
    return Catalogue(types=types, severity_cues=cues,
                     default_severity=_severity("default_severity",
                                                data.get("default_severity", "P3")))


def _severity(where: str, value: Any) -> Severity:
    try:
        return Severity(str(value))
    except ValueError:
        raise CatalogueError(f"{where}: {value!r} is not a severity; use P0, P1, P2 or P3") from None
