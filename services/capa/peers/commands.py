"""举一反三 on the capa application: list the peers at risk once the root cause is known, and
plan one preventive action for each in one step (one save: all of them or none)."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from services.capa.app import CapaApplication
from services.capa.domain import ActionKind, CapaCase, CapaNotFound
from services.capa.domain.errors import InvalidCapaInput
from services.capa.domain.spread import RootCauseMissing, at_risk, render
from services.capa.peers.queries import near_misses, signals, subject_of


class Peers:
    def __init__(self, app: CapaApplication, class_labels: list[str], lookback: timedelta) -> None:
        self.app, self.class_labels, self.lookback = app, class_labels, lookback

    async def at_risk(self, conn: asyncpg.Connection, case: dict[str, Any]) -> dict[str, Any]:
        """`case` as CapaApplication.case() reads it."""
        if case["root_cause"] is None:
            raise RootCauseMissing(f"CAPA for {case['ref']} has no root cause yet: 举一反三 looks "
                                   "for the signature a root cause explains, so record it first")
        subject = await subject_of(conn, case)
        since = self.app.clock.now() - self.lookback
        sightings, causes = await signals(conn, case, subject, since)
        peers = at_risk(subject, sightings, causes, self.class_labels, since,
                        await near_misses(conn, subject, since))
        planned = {a["entity"]: a["id"] for a in case["actions"] if a.get("entity")}
        return {
            "capa_id": case["id"], "entity": subject.entity, "rule": subject.rule,
            "category": subject.category, "since": since,
            "class_labels": {k: subject.labels[k] for k in self.class_labels
                             if subject.labels.get(k)},
            "items": [{**asdict(p), "action_id": planned.get(p.entity)} for p in peers],
        }

    def spread(self, capa_id: UUID, peers: list[dict[str, Any]], *, entities: list[str] | None,
               owner: str | None, owners: dict[str, str], verifier: str, due_date: date,
               title: str, acceptance_criteria: str, by: str,
               cause: dict[str, Any]) -> dict[str, Any]:
        """`peers`: the items of at_risk(). Entities with an action for them already are
        skipped, so asking twice plans nothing twice."""
        listed = {p["entity"]: p for p in peers}
        wanted = list(dict.fromkeys(entities)) if entities else list(listed)
        if not wanted:
            raise InvalidCapaInput("entities", "no peer of this case is at risk: nothing to plan")
        unknown = [e for e in wanted if e not in listed]
        if unknown:
            raise InvalidCapaInput("entities", f"{', '.join(unknown)} not at risk of this case's "
                                   "problem: choose among " + (", ".join(listed) or "none"))
        unowned = [e for e in wanted if not (owners.get(e) or owner)]
        if unowned:
            raise InvalidCapaInput("owners", f"name an owner for {', '.join(unowned)}, or one "
                                   "`owner` for every entity")

        def attempt() -> tuple[list[str], dict[str, str]]:
            case: CapaCase | None = self.app.get_or_none(capa_id)
            if case is None:
                raise CapaNotFound(f"no CAPA case has id {capa_id}")
            if case.root_cause is None:
                raise RootCauseMissing(f"{case.name} has no root cause yet: record it first")
            at = self.app.clock.now()
            done = {a.entity: a.id for a in case.actions.values() if a.entity}
            added = []
            for entity in wanted:
                if entity in done:
                    continue
                values = {"entity": entity, "root_cause": case.root_cause.statement,
                          "ref": case.ref}
                added.append(case.add_action(
                    kind=ActionKind.PREVENTIVE.value, title=render(title, "title", **values),
                    owner=owners.get(entity) or owner or "", due_date=due_date,
                    acceptance_criteria=render(acceptance_criteria, "acceptance_criteria",
                                               **values),
                    at=at, actor=by, cause=cause, entity=entity, verifier=verifier))
            if added:
                self.app.save(case)
            return added, {e: done[e] for e in wanted if e in done}

        added, skipped = self.app.retry_on_conflict(attempt)
        return {"capa_id": capa_id,
                "planned": [self.app.action(capa_id, a) for a in added],
                "skipped": [{"entity": e, "action_id": a} for e, a in skipped.items()]}


def class_labels_of(setting: str) -> list[str]:
    return [name.strip() for name in setting.split(",") if name.strip()]


