"""`closedloop directory apply` and `closedloop directory show`: the organisation (people,
teams, units, entity labels, and the RACI rules that staff incidents from it) as code,
applied over the notifier's API."""
from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any

import yaml

from closedloop.client import checked, confirmed, server_options, service_client

# kind → (its key field, its collection in the API and in the file), in the order changes
# are sent: people before the units and teams that name them.
KINDS = {"person": ("handle", "people"), "unit": ("key", "units"), "team": ("name", "teams")}


def register(sub: Any) -> None:
    directory = sub.add_parser("directory", help="the organisation as code").add_subparsers(
        dest="action", required=True)
    apply = directory.add_parser("apply", help="make the organisation match a file (shows "
                                 "the diff first)")
    apply.add_argument("file", type=Path)
    apply.add_argument("--yes", action="store_true", help="apply without asking")
    apply.add_argument("--dry-run", action="store_true", help="show the diff and stop")
    server_options(apply, "notifier")
    apply.set_defaults(run=cmd_directory_apply)
    show = directory.add_parser("show", help="print the organisation in the file's format")
    server_options(show, "notifier")
    show.set_defaults(run=cmd_directory_show)


# -- apply ----------------------------------------------------------------------------------
def cmd_directory_apply(args: argparse.Namespace) -> int:
    wanted = load(args.file)
    with service_client(args, "notifier") as client:
        current = {**checked(client.get("/v1/directory")), "raci": checked(client.get("/v1/raci"))}
        plan = plan_changes(wanted, current)
        print(describe(plan))
        if not changes_in(plan):
            return 0
        if args.dry_run:
            return 0
        if not confirmed(args):
            return 1
        execute(client, plan)
    print("applied.")
    return 0


def load(path: Path) -> dict[str, Any]:
    """The file's entries, normalised as the notifier stores them (so equal means equal)."""
    from pydantic import ValidationError

    from services.notifier.directory import Person, Team, Unit
    from services.notifier.directory.schemas import OrgFile
    from services.notifier.raci.rules import normalised
    from shared.errors import Invalid

    try:
        org = OrgFile.model_validate(yaml.safe_load(path.read_text()) or {})
    except (ValidationError, yaml.YAMLError) as error:
        raise SystemExit(f"{path}: {error}") from None
    entries: dict[str, Any] = {"entity_labels": org.entity_labels, "raci": None}
    if org.raci is not None:
        try:
            matrix, deadlines = normalised(*org.raci.as_rules())
        except Invalid as error:
            raise SystemExit(f"{path}: raci.{error}") from None
        entries["raci"] = {"matrix": matrix, "deadlines": deadlines}
    for kind, (key, plural), normalise in (("person", KINDS["person"], Person.normalised),
                                           ("unit", KINDS["unit"], Unit.normalised),
                                           ("team", KINDS["team"], Team.normalised)):
        entries[plural] = []
        for n, entry in enumerate(getattr(org, plural)):
            fields = entry.model_dump(mode="json", exclude={"left", "left_reason"})
            try:
                definition = normalise(**fields)
            except Invalid as error:
                raise SystemExit(f"{path}: {plural}[{n}] ({fields[key]}): {error}") from None
            if kind == "person":
                definition |= {"left": entry.left, "left_reason": entry.left_reason}
            entries[plural].append(definition)
    return entries


def current_entries(directory: dict[str, Any], plural: str, key: str,
                    fields: tuple[str, ...]) -> dict[str, dict]:
    found = {}
    for item in directory[plural]:
        entry = {f: item[f] for f in fields}
        if plural == "people":
            entry |= {"left": item["left"],
                      "left_reason": item["left_why"] if item["left"] else None}
        found[item[key]] = entry
    return found


def plan_changes(wanted: dict[str, Any], directory: dict[str, Any]) -> dict[str, Any]:
    from services.notifier.directory.people import PERSON_FIELDS
    from services.notifier.directory.teams import TEAM_FIELDS
    from services.notifier.directory.units import UNIT_FIELDS

    fields = {"person": PERSON_FIELDS, "unit": UNIT_FIELDS, "team": TEAM_FIELDS}
    labels = wanted["entity_labels"]
    plan: dict[str, Any] = {
        "labels": (directory["entity_labels"], labels)
        if labels is not None and labels != directory["entity_labels"] else None,
        "raci": raci_change(wanted.get("raci"), directory.get("raci")),
        "create": [], "change": [], "same": [], "untouched": []}
    for kind, (key, plural) in KINDS.items():
        current = current_entries(directory, plural, key, fields[kind])
        entries = wanted[plural]
        if kind == "unit":
            entries = parents_first(entries)
        for entry in entries:
            old = current.get(entry[key])
            if kind == "person":
                # The reason is recorded when someone leaves; it is not changed afterwards.
                kept = old["left_reason"] if old and old["left"] and entry["left"] else None
                entry = {**entry, "left_reason": kept or entry["left_reason"] if entry["left"]
                         else None}
            if old is None:
                plan["create"].append((kind, entry))
            elif old != entry:
                plan["change"].append((kind, entry[key], entry, old))
            else:
                plan["same"].append((kind, entry[key]))
        plan["untouched"] += [(kind, k) for k in sorted(set(current) - {e[key] for e in entries})]
    return plan


def raci_change(wanted: dict | None, current: dict | None) -> tuple[dict, dict] | None:
    """(current, wanted) RACI rules when the file has them and they differ."""
    now = {k: (current or {}).get(k) for k in ("matrix", "deadlines")}
    return (now, wanted) if wanted is not None and wanted != now else None


def parents_first(units: list[dict]) -> list[dict]:
    """Units ordered so that a parent defined in the same file comes before its children."""
    by_key, ordered, placed = {u["key"]: u for u in units}, [], set()

    def place(unit: dict, seen: frozenset) -> None:
        if unit["key"] in placed or unit["key"] in seen:
            return  # placed already, or a cycle the notifier will refuse by name
        parent = by_key.get(unit["parent"])
        if parent is not None:
            place(parent, seen | {unit["key"]})
        placed.add(unit["key"])
        ordered.append(unit)

    for unit in units:
        place(unit, frozenset())
    return ordered


def changes_in(plan: dict[str, Any]) -> bool:
    return bool(plan["labels"] or plan.get("raci") or plan["create"] or plan["change"])


def describe(plan: dict[str, Any]) -> str:
    lines = []
    if plan["labels"]:
        old, new = plan["labels"]
        lines.append(f"~ entity labels [{', '.join(old)}] → [{', '.join(new)}]")
    if plan.get("raci"):
        old, new = plan["raci"]
        lines.append("~ raci rules")
        lines += ["    " + line for line in difflib.unified_diff(
            _yaml(old).splitlines(), _yaml(new).splitlines(), "current", "file", lineterm="", n=1)]
    lines += [f"+ {kind} {entry[KINDS[kind][0]]}" for kind, entry in plan["create"]]
    for kind, key, new, old in plan["change"]:
        lines.append(f"~ {kind} {key}")
        lines += ["    " + line for line in difflib.unified_diff(
            _yaml(old).splitlines(), _yaml(new).splitlines(), "current", "file", lineterm="", n=1)]
    lines += [f"= {kind} {key} (unchanged)" for kind, key in plan["same"]]
    lines += [f"  {kind} {key} is not in the file and stays as it is"
              for kind, key in plan["untouched"]]
    if not changes_in(plan):
        lines.append("no changes.")
    return "\n".join(lines)


def execute(client: Any, plan: dict[str, Any]) -> None:
    """People first (units and teams name them), then units parents first, then teams."""
    for kind in KINDS:
        key, plural = KINDS[kind]
        for created_kind, entry in plan["create"]:
            if created_kind == kind:
                checked(client.post(f"/v1/{plural}", json=_body(kind, entry, keep_key=True)))
                if entry.get("left"):
                    checked(client.patch(f"/v1/people/{entry[key]}", json=_leaving(entry)))
        for changed_kind, name, entry, _ in plan["change"]:
            if changed_kind == kind:
                body = _body(kind, entry, keep_key=False)
                if kind == "person":
                    body |= _leaving(entry)
                checked(client.patch(f"/v1/{plural}/{name}", json=body))
    if plan["labels"]:
        checked(client.put("/v1/organisation", json={"entity_labels": plan["labels"][1]}))
    if plan.get("raci"):  # last: the rules name roles the units above hold
        checked(client.put("/v1/raci", json=plan["raci"][1]))


def _body(kind: str, entry: dict, keep_key: bool) -> dict:
    dropped = {"left", "left_reason"} | (set() if keep_key else {KINDS[kind][0]})
    return {k: v for k, v in entry.items() if k not in dropped}


def _leaving(entry: dict) -> dict:
    return {"left": entry["left"], "left_reason": entry["left_reason"]}


def _yaml(definition: dict) -> str:
    return yaml.safe_dump(definition, sort_keys=True, allow_unicode=True)


# -- show -----------------------------------------------------------------------------------
def cmd_directory_show(args: argparse.Namespace) -> int:
    with service_client(args, "notifier") as client:
        print(as_file({**checked(client.get("/v1/directory")),
                       "raci": checked(client.get("/v1/raci"))}), end="")
    return 0


def as_file(directory: dict[str, Any]) -> str:
    """The organisation in the format `apply` reads: applying it changes nothing."""
    from services.notifier.directory.people import PERSON_FIELDS
    from services.notifier.directory.teams import TEAM_FIELDS
    from services.notifier.directory.units import UNIT_FIELDS

    def person(p: dict) -> dict:
        left = {"left": True, "left_reason": p["left_why"]} if p["left"] else {}
        return {f: p[f] for f in PERSON_FIELDS} | left

    raci = directory.get("raci") or {}
    return yaml.safe_dump({
        "entity_labels": directory["entity_labels"],
        "people": [person(p) for p in directory["people"]],
        "units": [{f: u[f] for f in UNIT_FIELDS} for u in directory["units"]],
        "teams": [{f: t[f] for f in TEAM_FIELDS} for t in directory["teams"]],
    } | ({"raci": {"matrix": raci["matrix"], "deadlines": raci["deadlines"]}}
         if raci.get("matrix") else {}), sort_keys=False, allow_unicode=True)
