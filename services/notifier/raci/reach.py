"""Whom a RACI letter or a chase reaches: people by handle, through their contacts (like
ladder person targets), and the holders one level up the organisation from the
Accountable."""
from __future__ import annotations

from dataclasses import dataclass

from services.notifier.config_cache import Routing
from services.notifier.directory.chart import OrgChart
from services.notifier.recipients import Recipient, contacts_of


@dataclass(frozen=True)
class Why:
    """What chose a recipient, recorded on the delivery as "<kind>:<ref>" like a ladder
    target: raci:accountable, up:运营总监@hq."""

    kind: str
    ref: str


@dataclass(frozen=True)
class Up:
    handles: list[str]
    role: str | None = None
    unit: str | None = None
    why_not: str | None = None  # when nobody was found


def reach(handles: list[str], why: Why, chart: OrgChart, routing: Routing) -> list[Recipient]:
    """Each person on each contact whose channel is registered; people who left, or have
    no such contact, are not reached (see `unreachable`)."""
    return [r for h in dict.fromkeys(handles) for r in contacts_of(h, why, chart, routing)]


def unreachable(handles: list[str], recipients: list[Recipient]) -> list[str]:
    reached = {r.person["handle"] for r in recipients if r.person}
    return [f"{h}: not reachable (left, or no contact on a registered channel)"
            for h in dict.fromkeys(handles) if h not in reached]


def one_level_up(chart: OrgChart, accountable_at: list[dict[str, str]], up_roles: list[str],
                 entity_unit: str | None) -> Up:
    """Above the unit where the Accountable's role was held (else above the entity's unit),
    the first unit that has someone, still here, holding that role or else one of
    `up_roles` (in order). A P0's 战区负责人 at 华南战区 → 总部's 运营总监; a P2's 店长 at
    深圳宝安店 → 华南战区's 战区负责人."""
    starts = accountable_at or ([{"role": "", "unit": entity_unit}] if entity_unit else [])
    for start in starts:
        roles = [r for r in dict.fromkeys([start["role"], *up_roles]) if r]
        for unit in chart.ancestors(start["unit"]):
            for role in roles:
                holders = [h for h in unit["roles"].get(role, []) if chart.is_reachable(h)]
                if holders:
                    return Up(holders, role, unit["key"])
    if not starts:
        return Up([], why_not="the Accountable's unit is not known")
    return Up([], why_not="nobody above the Accountable's unit holds "
              f"{' or '.join(r for r in [starts[0]['role'], *up_roles] if r) or 'a role'}")
