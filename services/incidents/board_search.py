"""Text search on the board, Chinese and English alike, without a search server (pure; the
SQL it produces runs on PostgreSQL's GIN indexes: docs/adr/board-and-search.md).

Chinese has no spaces and its words are often two characters (宝安, 超时), which trigrams
cannot index. So every searchable text also keeps `grams`: each CJK character and each pair
of neighbouring CJK characters, plus every Latin word (lowercased). A query term must then
contain its own grams (an indexed `@>`) and appear as a substring of the text (`LIKE`, which
the pg_trgm index serves for Latin terms of three letters or more, and which removes the
pairs that matched out of order)."""
from __future__ import annotations

import re
import unicodedata

# CJK unified ideographs (with extension A and compatibility ideographs), kana and hangul.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
MAX_TERMS = 8
MAX_TERM = 64


def normalised(text: str) -> str:
    """Full-width letters and digits become ASCII (ＡＢＣ１ → abc1), then lowercase: what is
    stored and what is asked are compared in this form."""
    return unicodedata.normalize("NFKC", text).lower()


def grams(text: str) -> list[str]:
    """The index keys of a text: CJK characters and bigrams, whole Latin/digit words."""
    found: set[str] = set()
    for run in _RUNS.findall(normalised(text)):
        if _IS_CJK.match(run):
            found.update(run)
            found.update(run[i:i + 2] for i in range(len(run) - 1))
        else:
            found.add(run)
    return sorted(found)


def query_grams(term: str) -> list[str]:
    """The grams a text must hold to contain `term` (already normalised). Latin runs are
    left out: inside a longer word ("pay" in "payment") they are not whole words; the
    trigram index and LIKE find those."""
    found: set[str] = set()
    for run in _RUNS.findall(term):
        if _IS_CJK.match(run):
            found.update([run] if len(run) == 1 else
                         (run[i:i + 2] for i in range(len(run) - 1)))
    return sorted(found)


def terms(q: str) -> list[str]:
    """The query's terms: split on white space, normalised; each must be found."""
    return [t for t in normalised(q).split() if t][:MAX_TERMS]


def like_pattern(term: str) -> str:
    """`%term%` with LIKE's own characters escaped (backslash is the default escape)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def searchable(*parts: str | None) -> str:
    """The stored form of the texts a card is found by, one per line."""
    return "\n".join(normalised(p) for p in parts if p)
