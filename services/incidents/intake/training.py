"""Where the learned classifier's labels live and when it retrains: the `intake_examples`
read model (one row per declared incident: its report and its final type, labelled once a
person gave or corrected it), trained from on start and again after every N new labels."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from shared.readmodels import Apply, Projection
from shared.row_writes import own_rows

from services.incidents.domain import Incident
from services.incidents.intake.classifier import Classifier, Example, report_text

log = logging.getLogger(__name__)

EXAMPLES_DDL = """
CREATE TABLE IF NOT EXISTS intake_examples (
    id uuid PRIMARY KEY,
    opened_at timestamptz NOT NULL,
    text text NOT NULL,
    problem_type text,
    labelled boolean NOT NULL DEFAULT false
);
"""
LABELLED = ("SELECT text, problem_type FROM intake_examples WHERE labelled "
            "AND problem_type IS NOT NULL ORDER BY opened_at, id")


class IntakeExamplesProjection(Projection):
    name = "intake_examples"
    tables = {"intake_examples": EXAMPLES_DDL}

    def handlers(self) -> dict[type, Apply]:
        return {Incident.Opened: opened, Incident.Reclassified: reclassified}


@own_rows
async def opened(conn: asyncpg.Connection, e: Any) -> None:
    intake = e.alert.get("intake")
    if not intake:
        return
    text = report_text(e.title, e.alert.get("summary"), intake.get("description"))
    await conn.execute(
        """INSERT INTO intake_examples (id, opened_at, text, problem_type, labelled)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET
           opened_at = EXCLUDED.opened_at, text = EXCLUDED.text,
           problem_type = EXCLUDED.problem_type, labelled = EXCLUDED.labelled""",
        e.originator_id, e.at, text, intake.get("problem_type"), bool(intake.get("labelled")))


@own_rows
async def reclassified(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE intake_examples SET problem_type = $2, labelled = true "
                       "WHERE id = $1", e.originator_id, e.problem_type)


async def retrain(runtime: Any, classifier: Classifier) -> dict[str, Any]:
    """Train on every label there is now (cheap: thousands of short reports in a second)."""
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(LABELLED)
    examples = [Example(row["text"], row["problem_type"]) for row in rows]
    return await asyncio.to_thread(classifier.train, examples, runtime.clock.now())


def retrainer(classifier: Classifier, every: int, poll_seconds: float):
    """A worker: trains on start, then whenever `every` labels were added since."""
    async def keep_trained(runtime: Any) -> None:
        trained_on = -1
        while True:
            seen = runtime.read_models.generation
            try:
                async with runtime.pool.acquire() as conn:
                    labels = await conn.fetchval(
                        "SELECT count(*) FROM intake_examples WHERE labelled")
            except asyncpg.UndefinedTableError:  # the read model is still being built
                await runtime.read_models.wait(seen, poll_seconds)
                continue
            if trained_on < 0 or labels - trained_on >= every:
                status = await retrain(runtime, classifier)
                trained_on = labels
                log.info("intake classifier: %s", status["reason"])
            # During an alert storm the read models change all the time: count at most a few
            # times a second, not once per change.
            await asyncio.sleep(0.25)
            await runtime.read_models.wait(seen, poll_seconds)
    return keep_trained
