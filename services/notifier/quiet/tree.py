"""The routing tree, Alertmanager-style: a root route with children, each with matchers, a
receiver (the name of an escalation policy) and `continue`. An alert goes down the first
matching child (and on to later siblings while a matching child says `continue`); where no
child matches, the route it reached delivers it. A route without a receiver inherits its
parent's; the root's absent receiver means "the policies that cover the alert's severity",
which is the default tree: severity alone."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.notifier.quiet.matchers import Matcher, canonical, matches_all, parse_list
from shared.errors import Invalid

MAX_ROUTES = 200
MAX_DEPTH = 8
SEVERITY_LABEL = "severity"


class Policy(Protocol):
    name: str
    enabled: bool

    def matches(self, severity: str) -> bool: ...


@dataclass(frozen=True)
class Route:
    where: str  # its path in the tree ("root.routes[1]"), as explanations name it
    matchers: tuple[Matcher, ...] = ()
    receiver: str | None = None
    continue_: bool = False
    routes: tuple["Route", ...] = ()

    def spec(self) -> dict[str, Any]:
        return {"matchers": canonical(self.matchers), "receiver": self.receiver,
                "continue": self.continue_, "routes": [r.spec() for r in self.routes]}

    def receivers(self) -> Iterable[tuple[str, str]]:
        """(where, receiver) of every route naming one."""
        if self.receiver is not None:
            yield f"{self.where}.receiver", self.receiver
        for child in self.routes:
            yield from child.receivers()


DEFAULT_SPEC: dict[str, Any] = {"matchers": [], "receiver": None, "continue": False, "routes": []}


def parse_tree(spec: Mapping[str, Any]) -> Route:
    """A tree from its JSON form, every matcher parsed; errors name the route and field."""
    count = [0]
    root = _parse_route(spec, "root", 0, count)
    if root.matchers:
        raise Invalid("root.matchers", "the root route matches every alert; put matchers on "
                      "its child routes")
    if root.continue_:
        raise Invalid("root.continue", "the root route has no siblings to continue to")
    return root


def _parse_route(spec: Mapping[str, Any], where: str, depth: int, count: list[int]) -> Route:
    count[0] += 1
    if count[0] > MAX_ROUTES:
        raise Invalid(where, f"a routing tree has at most {MAX_ROUTES} routes")
    if depth > MAX_DEPTH:
        raise Invalid(where, f"routes nest at most {MAX_DEPTH} levels deep")
    unknown = set(spec) - set(DEFAULT_SPEC)
    if unknown:
        raise Invalid(f"{where}.{sorted(unknown)[0]}", "not a field of a route (matchers, "
                      "receiver, continue, routes)")
    receiver = spec.get("receiver")
    if receiver is not None and (not isinstance(receiver, str) or not receiver.strip()):
        raise Invalid(f"{where}.receiver", "the name of an escalation policy, or null to inherit")
    children = spec.get("routes") or []
    return Route(where=where,
                 matchers=tuple(parse_list(spec.get("matchers") or [], f"{where}.matchers")),
                 receiver=receiver, continue_=bool(spec.get("continue", False)),
                 routes=tuple(_parse_route(child, f"{where}.routes[{i}]", depth + 1, count)
                              for i, child in enumerate(children)))


@dataclass
class Routed:
    """Which policies an alert goes to, and why: every route looked at, in order."""

    policies: list[str] = field(default_factory=list)
    matched: list[dict[str, Any]] = field(default_factory=list)
    visited: list[dict[str, Any]] = field(default_factory=list)

    def explain(self) -> dict[str, Any]:
        return {"policies": self.policies, "matched": self.matched, "visited": self.visited}


def route(tree: Route, labels: Mapping[str, str], policies: Sequence[Policy]) -> Routed:
    """The policy names an alert with these labels goes to (no repeats, tree order)."""
    routed = Routed()
    for where, receiver in _match(tree, labels, None, routed):
        names, note = resolve(receiver, labels, policies)
        routed.matched.append({"route": where, "receiver": receiver, "policies": names,
                               "note": note})
        routed.policies.extend(n for n in names if n not in routed.policies)
    return routed


def _match(node: Route, labels: Mapping[str, str], inherited: str | None,
           routed: Routed) -> list[tuple[str, str | None]]:
    matched = matches_all(node.matchers, labels)
    routed.visited.append({"route": node.where, "matchers": canonical(node.matchers),
                           "matched": matched, "continue": node.continue_})
    if not matched:
        return []
    receiver = node.receiver if node.receiver is not None else inherited
    found: list[tuple[str, str | None]] = []
    for child in node.routes:
        below = _match(child, labels, receiver, routed)
        found.extend(below)
        if below and not child.continue_:
            break
    return found or [(node.where, receiver)]


def resolve(receiver: str | None, labels: Mapping[str, str],
            policies: Sequence[Policy]) -> tuple[list[str], str | None]:
    """A receiver's policies: the one named (if it exists and is enabled), or, for none, the
    enabled policies covering the `severity` label."""
    if receiver is None:
        severity = labels.get(SEVERITY_LABEL, "")
        names = [p.name for p in policies if p.matches(severity)]
        return names, (f"policies covering severity {severity!r}" if names else
                       f"no enabled policy covers severity {severity!r}")
    named = next((p for p in policies if p.name == receiver), None)
    if named is None:
        return [], f"no policy is named {receiver!r} (renamed since the tree was written?)"
    if not named.enabled:
        return [], f"policy {receiver!r} is disabled"
    return [receiver], None


def check_receivers(tree: Route, known: Iterable[str]) -> None:
    names = set(known)
    for where, receiver in tree.receivers():
        if receiver not in names:
            raise Invalid(where, f"no escalation policy is named {receiver!r}; define it with "
                          "POST /v1/policies or name an existing one")
