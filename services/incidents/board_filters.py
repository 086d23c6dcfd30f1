"""What narrows the board, the incident list and the exports: query parameters parsed into
`ViewFilters`, turned into SQL over `incidents i LEFT JOIN board_cards c`; the opaque cursor
over (opened_at, ref); and the refusal of parameters a route does not know (FastAPI would
silently ignore a misspelt filter and show everything)."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Query, Request

from shared.errors import Invalid
from shared.limits import NAME

from services.incidents.board_search import MAX_TERM, like_pattern, query_grams, terms

# The planned closure: set by hand on the board, else the policy's closure deadline (from
# the resolution), else the resolve deadline (before the incident is resolved).
PLANNED = "coalesce(c.planned_close_at, i.close_by, i.resolve_by)"
OPEN = "(i.closed_at IS NULL AND i.status <> 'archived')"
FROM = "incidents i LEFT JOIN board_cards c ON c.id = i.id"


class Params:
    """Positional SQL parameters ($1, $2 …) gathered while a query is built."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True)
class ViewFilters:
    unit: str | None = None
    entity: str | None = None
    owner: str | None = None
    type: str | None = None
    source: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    overdue: bool | None = None
    q: str | None = None

    def where(self, p: Params, now: datetime, few: bool = False) -> list[str]:
        """`few`: the search matches few incidents (the caller counted them), so its ids are
        found first, through the GIN indexes; otherwise the planner may join, or walk
        opened_at meeting matches soon (a common word)."""
        where = []
        if self.unit is not None:  # the unit itself or any unit above it (a region)
            where.append(f"c.unit_keys @> ARRAY[{p(self.unit)}]::text[]")
        for column, value in (("c.entity", self.entity), ("i.responsible", self.owner),
                              ("c.type", self.type), ("c.source", self.source)):
            if value is not None:
                where.append(f"{column} = {p(value)}")
        if self.opened_from is not None:
            where.append(f"i.opened_at >= {p(self.opened_from)}")
        if self.opened_to is not None:
            where.append(f"i.opened_at < {p(self.opened_to)}")
        if self.overdue is not None:
            late = (f"({OPEN} AND (i.respond_breached OR i.resolve_breached OR "
                    f"i.close_breached OR {PLANNED} < {p(now)}))")
            where.append(late if self.overdue else f"NOT {late}")
        words = terms(self.q or "")
        if words:  # one subquery for every word: a common word does not swamp a rare one
            found = "SELECT id FROM board_search WHERE " + " AND ".join(
                condition for word in words for condition in _matching(word, p))
            # Few: an InitPlan, then the cards by id; left to itself the planner may walk
            # opened_at hoping to meet a rare word soon (measured: 190 ms instead of 6 ms).
            where.append(f"i.id = ANY(ARRAY({found}))" if few else f"i.id IN ({found})")
        return where


def _matching(term: str, p: Params) -> list[str]:
    """The card's text holds `term`: its CJK grams through the GIN index on the grams, the
    substring through the trigram index (Latin terms of 3+ letters) or as a recheck. A term
    of one or two CJK characters is its own gram: holding the gram is holding the term."""
    keys = query_grams(term)
    grams = [f"search_grams @> {p(keys)}::text[]"] if keys else []
    if keys == [term]:
        return grams
    return grams + [f"search_text LIKE {p(like_pattern(term))}"]


def view_filters(
    unit: str | None = Query(None, max_length=NAME, description="a unit's key or name: "
                             "incidents of its entities and of every unit below it (a region)"),
    entity: str | None = Query(None, max_length=NAME, description="the entity (门店), exactly"),
    owner: str | None = Query(None, max_length=NAME, description="the responsible (负责人)"),
    type: str | None = Query(None, max_length=NAME, description="the problem type"),
    source: str | None = Query(None, max_length=NAME,
                               description="where it came from (an intake source or the "
                               "alert's source)"),
    opened_from: datetime | None = Query(None, alias="from",
                                         description="opened at or after (ISO 8601)"),
    opened_to: datetime | None = Query(None, alias="to", description="opened before (ISO 8601)"),
    overdue: bool | None = Query(None, description="open and past its planned closure or an "
                                 "SLA deadline (true), or not (false)"),
    q: str | None = Query(None, max_length=200, description="words found in the ref, entity, "
                          "unit, title, description, progress notes or resolution; Chinese "
                          "or English, every word must be found"),
) -> ViewFilters:
    for when, name in ((opened_from, "from"), (opened_to, "to")):
        if when is not None and when.tzinfo is None:
            raise Invalid(name, f"{when.isoformat()} has no time zone; add one "
                          "(2026-12-01T00:00:00+08:00 or …Z)")
    if opened_from is not None and opened_to is not None and opened_from >= opened_to:
        raise Invalid("from", f"from ({opened_from.isoformat()}) is not before to "
                      f"({opened_to.isoformat()}); swap them or widen the range")
    if q is not None and any(len(t) > MAX_TERM for t in terms(q)):
        raise Invalid("q", f"a word is over {MAX_TERM} characters; search for a shorter one")
    return ViewFilters(unit, entity, owner, type, source, opened_from, opened_to, overdue,
                       q.strip() or None if q is not None else None)


def known_params_only(request: Request) -> None:
    """A dependency refusing query parameters the route does not declare, naming them."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise Invalid(unknown[0], f"unknown query parameter{'s' if len(unknown) > 1 else ''} "
                      f"{', '.join(unknown)}; this route takes {', '.join(sorted(known))} "
                      "(check the spelling, or drop it)")


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


# -- cursor ---------------------------------------------------------------------------------
def encode_cursor(opened_at: datetime, ref: str) -> str:
    raw = json.dumps([opened_at.isoformat(), ref], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, ref = json.loads(raw)
        return datetime.fromisoformat(at), str(ref)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor", "is not a cursor this API gave; send the next_cursor of the "
                      "previous page, or leave it out for the first page") from None


def after_cursor(cursor: str | None, p: Params) -> list[str]:
    """Newest first: the rows after the cursor's are older (or, at the same time, lower ref)."""
    if cursor is None:
        return []
    at, ref = decode_cursor(cursor)
    return [f"(i.opened_at, i.ref) < ({p(at)}, {p(ref)})"]
