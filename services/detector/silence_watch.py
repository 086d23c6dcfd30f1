"""The tick's watch for silent series (silence.py): which rule × entity alerted within the
horizon, when each last sent a sample, and the silences that began or ended since the last
tick, stored as MetricSilence events (published as MetricSilent / MetricResumed).

What is watched comes from the `alerts` read model: rule alerts firing, or resolved within
`silence_watch_days`. Last samples come from the evaluator's in-memory series, which the
evaluator rebuilds from the sample store. Which silences are open is read from their
aggregates once per lease and then kept here: only the lease holder writes them."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

import numpy as np

from shared import causation
from shared.store import IntegrityError

from services.detector.evaluator import Evaluator
from services.detector.silence import MetricSilence, Watched, changes, silent_after

log = logging.getLogger(__name__)
ACTOR = "detector:clock"

WATCHED = """SELECT fingerprint, rule_id, entity, name FROM alerts
             WHERE source = 'rule' AND rule_id IS NOT NULL
               AND (status = 'firing' OR resolved_at >= to_timestamp($1))"""


class SilenceWatch:
    def __init__(self, evaluator: Evaluator, *, horizon_seconds: float,
                 default_after: float) -> None:
        self.evaluator, self.app = evaluator, evaluator.app
        self.horizon, self.default_after = horizon_seconds, default_after
        # fingerprint → last sample before its open silence (None: not silent); absent: unread
        self.silent: dict[str, float | None] = {}

    async def tick(self, now: float) -> dict[str, int]:
        async with self.evaluator.store.pool.acquire() as conn:
            rows = await conn.fetch(WATCHED, now - self.horizon)
        if not rows:
            return {}
        async with self.evaluator.lock:  # the engine's series move under this lock
            watched, last = self._last_samples(rows)
        unread = [w.fingerprint for w in watched if w.fingerprint not in self.silent]
        if unread:
            self.silent.update(await asyncio.to_thread(self._read, unread))
        open_ = {fp: since for fp, since in self.silent.items() if since is not None}
        began, ended = changes(watched, last, open_, now)
        if not began and not ended:
            return {}
        resumed = [await self._first_sample_after(w, since) for w, since in ended]
        try:
            await asyncio.to_thread(self._record, began, list(zip(ended, resumed)))
        except IntegrityError:  # another writer got there first: read them afresh next tick
            self.silent.clear()
            return {}
        return {"silent": len(began), "resumed": len(ended)}

    def _last_samples(self, rows: list[Any]) -> tuple[list[Watched], dict[str, float]]:
        engine = self.evaluator.engine
        if engine is None:  # rebuilding after a rule change: the next tick looks
            return [], {}
        found, sids = [], []
        for row in rows:
            rule = engine.rules.get(row["rule_id"])
            if rule is None:  # disabled or deleted since it alerted
                continue
            known = self.evaluator.known.get((rule.spec.metric, row["entity"]))
            found.append((row, rule))
            sids.append(-1 if known is None else known[1])
        # One gather of the series' latest times instead of a numpy scalar per pair.
        last_ts, index = engine.registry.last_ts, np.array(sids, dtype=np.int64)
        latest = np.full(len(index), -np.inf)
        present = (index >= 0) & (index < len(last_ts))
        latest[present] = last_ts[index[present]]
        watched, last = [], {}
        for (row, rule), ts in zip(found, latest.tolist()):
            w = Watched(fingerprint=row["fingerprint"], rule_id=row["rule_id"],
                        name=row["name"], metric=rule.spec.metric, entity=row["entity"],
                        after=silent_after(rule.interval, self.default_after))
            watched.append(w)
            if ts != -np.inf:
                last[w.fingerprint] = ts
        return watched, last

    def _read(self, fingerprints: list[str]) -> dict[str, float | None]:
        found = {}
        for fp in fingerprints:
            silence = self.app.get_or_none(MetricSilence.create_id(fp))
            since = silence.last_sample_at if silence is not None else None
            found[fp] = since.timestamp() if since is not None else None
        return found

    async def _first_sample_after(self, w: Watched, since: float) -> float:
        """The silence ended with the first sample after it, not the latest one: samples sent
        late (backfilled) make part of the gap observed after all."""
        stored_id = self.evaluator.known[(w.metric, w.entity)][0]
        async with self.evaluator.store.pool.acquire() as conn:
            first = await conn.fetchval(
                "SELECT min(ts) FROM samples WHERE series_id = $1 AND ts > $2", stored_id, since)
        return first if first is not None else since

    def _record(self, began: list[tuple[Watched, float]],
                ended: list[tuple[tuple[Watched, float], float]]) -> None:
        at, cause = self.app.clock.now(), causation.from_timer("detector.silence_watch")
        changed, states = [], {}
        for w, last in began:
            silence = (self.app.get_or_none(MetricSilence.create_id(w.fingerprint))
                       or MetricSilence(fingerprint=w.fingerprint))
            if silence.begin(w, _time(last), at, ACTOR, cause):
                changed.append(silence)
            states[w.fingerprint] = silence.last_sample_at.timestamp()
        for (w, _), resumed in ended:
            silence = self.app.get_or_none(MetricSilence.create_id(w.fingerprint))
            if silence is not None and silence.end(w, _time(resumed), at, ACTOR, cause):
                changed.append(silence)
            states[w.fingerprint] = None
        if changed:
            self.app.save(*changed)
        self.silent.update(states)
        for w, last in began:
            log.info("detector: %s sent no samples of %s since %s (rule %s)", w.entity,
                     w.metric, _time(last).isoformat(), w.name)


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
