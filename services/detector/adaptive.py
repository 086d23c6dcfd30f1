"""Adaptive, causal, online anomaly scorer for one numeric series.

Why it is built this way: docs/adr/robust-adaptive-scorer.md. The score of point i depends on
points 0..i only. The few settings in :class:`Settings` are checked by leave-one-family-out
cross-validation on the NAB dev split (``python -m tests.bench.nab_cv``).

Per point:

1. *Surprise*: an ensemble of robust z-scores. For each time scale w (points) an exponentially
   weighted location and mean absolute deviation, updated with Huber-clipped innovations so
   one outlier cannot drag them, predict the value; "same as the previous point" is scored the
   same way, and the most surprised member speaks (the max). A time-of-day model (this
   5-minute slot's own robust location and spread) competes with that ensemble: whichever has
   the better track record on this series (lower mean surprise over ``memory`` points) gives
   the surprise, so a series with a daily rhythm is judged against its rhythm, and a day that
   breaks the rhythm is surprising even when it is smooth.
2. *Anomaly likelihood* (HTM's layer): the surprise, capped at ``Z_CAP``, is averaged over the
   last ``short`` points and compared with the distribution of that average over the last
   ``memory`` points (EW mean and variance). Its Gaussian tail probability Q (the Q-function)
   becomes the score ``log(Q) / log(Q_FLOOR)`` in [0, 1]: 0.5 means Q = 1e-5. Judging a series
   against its own history lets one threshold serve series of any scale and noise.
3. *New range* (as NAB's HTM detector does): a value beyond the range seen so far by more than
   ``range_tolerance`` of its width, and at least ``RANGE_Z`` surprising (so the records plain
   noise keeps setting do not count), scores from 0.5 up to 1 at ``RANGE_FULL`` beyond.
4. *Novel transition* (CAD OSE's contextual memory, reduced to its core): the value is
   quantised into ``levels`` levels of the range seen; a level that never followed the
   previous level nor the previous two (a context visited ``CONTEXT_VISITS`` times already)
   scores at least ``NOVEL_SCORE``.
5. *Hold-off*: after a score reaches the threshold the next ``max(holdoff, holdoff_fraction *
   n)`` points score 0, so one incident raises one alert (ARTime masks after an anomaly too).

Warm-up: no score before ``warmup`` points; every EW estimate is a plain running mean until
it has seen as many points as its span, so early estimates are not biased towards the first
value. A constant series scores 0 (its spread floor is relative to its level) and a change
after it scores high. NaN values or timestamps score 0 and leave the state untouched.
One loop (``_run``) serves both ``update`` and ``score_series``, which is why they agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

# Score at/above which a point counts as anomalous: the likelihood's tail probability 1e-5.
ANOMALY_THRESHOLD = 0.5
Q_FLOOR = 1e-10      # tail probability that maps to score 1 (HTM's log-likelihood scale)
CLIP = 3.0           # innovations beyond CLIP mean absolute deviations are clipped
Z_CAP = 20.0         # one point's surprise counts at most this much in the average
SD_FLOOR = 0.05      # the average's spread is at least this (in z units): noise-free series
REL_FLOOR = 1e-9     # spread floor relative to the level: a flat series is not noise
SLOTS, PERIOD = 288, 86400.0  # time-of-day model: 5-minute slots over a day
SEASON_DAYS = 10     # memory of each time-of-day slot, in visits
RANGE_Z = 4.0        # a new extreme counts if it is also this surprising (noise records don't)
RANGE_FULL = 0.1     # ... and scores 1 this far (of the range's width) beyond the range
NOVEL_SCORE = 0.6    # score of a novel transition (just above the threshold)
CONTEXT_VISITS = 5   # a context can see a novel transition once it was visited this often


@dataclass(frozen=True)
class Settings:
    """The scorer's parameters (defaults and their cross-validated figures: see the ADR)."""
    scales: tuple[int, ...] = (16, 128, 1024)  # time scales of the robust z-scores, in points
    short: int = 20         # points averaged before the likelihood (HTM uses 10)
    memory: int = 2000      # memory of the likelihood's distribution, in points
    warmup: int = 150       # points before any score is given
    range_tolerance: float = 0.0  # a new extreme beyond the range seen by this fraction of it
    levels: int = 7         # quantisation levels of the transition memory (0: off)
    holdoff: int = 20       # points silenced after an alert, at least ...
    holdoff_fraction: float = 0.05  # ... or this fraction of the points seen
    threshold: float = ANOMALY_THRESHOLD  # what starts a hold-off
    alphas: tuple[float, ...] = field(init=False, repr=False, compare=False)
    unpacked: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.scales or min(self.scales) < 1 or self.short < 1 or self.memory < 1:
            raise ValueError("scales, short and memory must be positive point counts")
        if not 0 <= self.levels <= 30:
            raise ValueError("levels must be between 0 (off) and 30")
        alphas = tuple(2.0 / (w + 1.0) for w in self.scales)
        object.__setattr__(self, "alphas", alphas)
        # everything _run needs, computed once: one unpack per call keeps `update` cheap
        object.__setattr__(self, "unpacked", (
            alphas, alphas[0], 2.0 / (self.short + 1.0), 1.0 / self.memory, self.warmup,
            self.warmup // 3, self.range_tolerance, self.holdoff, self.holdoff_fraction,
            self.threshold, self.levels, self.levels - 1, (1 << self.levels) - 1))


DEFAULT = Settings()
_LOG_Q_FLOOR = math.log(Q_FLOOR)
_SQRT_HALF = math.sqrt(0.5)
_SLOT_SCALE = SLOTS / PERIOD


class AdaptiveScorer:
    """Online scorer for one series: ``update(value, ts)`` returns a score in [0, 1]."""

    __slots__ = ("settings", "scalars", "loc", "mad", "s_loc", "s_mad", "s_seen", "trans")

    def __init__(self, settings: Settings = DEFAULT) -> None:
        self.settings = settings
        # n, prev, mad_d, avg, mu, var, lo, hi, quiet, lv1, lv2, fit_l, fit_s (one list: one
        # unpack per call)
        self.scalars = [0, 0.0, 0.0, 0.0, 0.0, 0.0, math.inf, -math.inf, 0, -1, -1, 0.0, 0.0]
        self.loc = [0.0] * len(settings.scales)
        self.mad = [0.0] * len(settings.scales)
        self.s_loc, self.s_mad, self.s_seen = [0.0] * SLOTS, [0.0] * SLOTS, [0] * SLOTS
        # bit masks of the levels that followed each context (one level, two levels)
        self.trans = [0] * (settings.levels + settings.levels ** 2)

    @property
    def n(self) -> int:
        """Points scored so far (gaps not counted)."""
        return self.scalars[0]

    def update(self, value: float, ts: float) -> float:
        return _run(self, (float(value),), (float(ts),))[0]

    def state_bytes(self) -> int:
        """Memory held, 8 bytes per number (what a C or numpy layout needs)."""
        return 8 * (len(self.scalars) + 2 * len(self.loc) + 3 * SLOTS + len(self.trans))


def _run(st: AdaptiveScorer, values, stamps) -> list[float]:
    """Score ``values`` in order, updating ``st``; the single implementation of the method."""
    (alphas, a_d, a_short, a_long, warmup, learn, tol, holdoff, fraction, threshold, levels,
     top, full) = st.settings.unpacked
    # fit_l, fit_s: track records (mean capped surprise) of the local and time-of-day models
    n, prev, mad_d, avg, mu, var, lo, hi, quiet, lv1, lv2, fit_l, fit_s = st.scalars
    loc, mad, s_loc, s_mad, s_seen, trans = st.loc, st.mad, st.s_loc, st.s_mad, st.s_seen, st.trans
    log, erfc, sqrt, isfinite = math.log, math.erfc, math.sqrt, math.isfinite
    members = range(len(alphas))
    a_season = 1.0 / SEASON_DAYS
    out = []
    for x, t in zip(values, stamps):
        if not (isfinite(x) and isfinite(t)):
            out.append(0.0)  # a gap says nothing; keep the state as it is
            continue
        if n == 0:
            prev = lo = hi = x
            for j in members:
                loc[j] = x
            n = 1
            out.append(0.0)
            continue
        floor = REL_FLOOR * (abs(x) + abs(prev)) + 1e-300
        inv_n = 1.0 / n  # until n reaches a span, its EW weight is a plain running mean
        # 1. surprise: the previous-value predictor and the robust location at each scale
        d = abs(x - prev)
        z = d / (mad_d + floor)
        mad_d += (a_d if a_d > inv_n else inv_n) * ((d if d < CLIP * mad_d or n < 3
                                                      else CLIP * mad_d) - mad_d)
        for j in members:
            a, e, s = alphas[j], x - loc[j], mad[j]
            if a < inv_n:
                a = inv_n
            zj = abs(e) / (s + floor)
            if zj > z:
                z = zj
            if n > 2:
                c = CLIP * s
                e = c if e > c else (-c if e < -c else e)
            loc[j] += a * e
            mad[j] += a * (abs(e) - s)
        # ... or the time-of-day model's, when it has predicted this series better
        slot = int((t % PERIOD) * _SLOT_SCALE)
        seen = s_seen[slot]
        if seen:
            e, s = x - s_loc[slot], s_mad[slot]
            if seen > 2:
                zs = abs(e) / (s + floor)
                # the model with the better track record (mean capped surprise) speaks
                fit_l += a_long * ((z if z < Z_CAP else Z_CAP) - fit_l)
                fit_s += a_long * ((zs if zs < Z_CAP else Z_CAP) - fit_s)
                if fit_s < fit_l:
                    z = zs
                c = CLIP * s
                e = c if e > c else (-c if e < -c else e)
            a = a_season if a_season * seen > 1.0 else 1.0 / seen
            s_loc[slot] += a * e
            s_mad[slot] += a * (abs(e) - s)
        else:
            s_loc[slot], s_mad[slot] = x, 0.0
        s_seen[slot] = seen + 1
        prev = x
        n += 1
        # 2. likelihood of the short average under its own long-run distribution
        avg += a_short * ((z if z < Z_CAP else Z_CAP) - avg)
        dev = avg - mu
        sd = sqrt(var) + SD_FLOOR
        if n > learn:  # the z-scores mean little before the scales have seen a few points
            a = a_long if (n - learn) * a_long > 1.0 else 1.0 / (n - learn)
            mu += a * dev
            var = (1.0 - a) * (var + a * dev * dev)
        score = 0.0
        if n >= warmup:
            zl = dev / sd
            if zl > 0.0:
                q = erfc(zl * _SQRT_HALF) if zl < 37.0 else 0.0
                score = log(q) / _LOG_Q_FLOOR if q > Q_FLOOR else 1.0
            # 3. a value beyond the range seen so far: from the threshold up, by how far
            width = hi - lo
            beyond = (x - hi if x > hi else lo - x) - tol * width
            if beyond > 0.0 and z >= RANGE_Z:
                r = 0.5 + 0.5 * beyond / (RANGE_FULL * width) if width > 0.0 else 1.0
                r = r if r < 1.0 else 1.0
                if r > score:
                    score = r
        # 4. a level that never followed this context
        if levels:
            low, high = (x if x < lo else lo), (x if x > hi else hi)
            span = high - low
            lv = int((x - low) / span * top + 0.5) if 0.0 < span < math.inf else 0
            bit = 1 << lv
            if lv1 >= 0:
                seen1 = trans[lv1]
                trans[lv1] = seen1 | bit
                if lv2 >= 0:
                    # the two-level context keeps its visit count above its level bits
                    key = levels + levels * lv2 + lv1
                    packed = trans[key]
                    seen2, visits = packed & full, packed >> levels
                    trans[key] = ((visits + 1 if visits < 1_000_000 else visits) << levels) \
                        | seen2 | bit
                    if n >= warmup and visits >= CONTEXT_VISITS and not (seen1 | seen2) & bit \
                            and score < NOVEL_SCORE:
                        score = NOVEL_SCORE
            lv2, lv1 = lv1, lv
        if x < lo:
            lo = x
        if x > hi:
            hi = x
        # 5. one alert per incident
        if quiet > 0:
            quiet -= 1
            score = 0.0
        elif score >= threshold:
            quiet = max(holdoff, int(fraction * n))
        out.append(score)
    st.scalars = [n, prev, mad_d, avg, mu, var, lo, hi, quiet, lv1, lv2, fit_l, fit_s]
    return out


def score_series(values: np.ndarray, ts: np.ndarray, settings: Settings = DEFAULT) -> np.ndarray:
    """Scores of a whole series, identical to ``update`` point by point, in one tight loop."""
    values = np.asarray(values, dtype=float)
    ts = np.asarray(ts, dtype=float)
    if values.shape != ts.shape:
        raise ValueError("values and ts must have the same length")
    return np.asarray(_run(AdaptiveScorer(settings), values.tolist(), ts.tolist()), dtype=float)


def score_csv(path: str) -> list[float]:
    """Scores of a ``timestamp,value`` CSV (NAB's form, header optional), one per data row.

    The rows must be one series in time order: a row earlier than, or at the same time as,
    the row before it is refused with its row number rather than scored out of order."""
    from services.detector.rules.backtest.readers import read_samples_csv

    with open(path, newline="") as f:
        samples = read_samples_csv(f.read(), metric="series")
    if not samples:
        raise ValueError("no data rows; expected timestamp,value rows")
    entities = {s[1] for s in samples}
    if len(entities) > 1:
        raise ValueError(f"{len(entities)} entities ({', '.join(sorted(entities)[:3])}, ...); "
                         "the scorer reads one series: give a timestamp,value file per series")
    stamps = np.array([s[3] for s in samples])
    back = np.flatnonzero(np.diff(stamps) <= 0)
    if back.size:
        i = int(back[0]) + 1
        when = datetime.fromtimestamp(stamps[i], timezone.utc).isoformat()
        how = "repeats the time of" if stamps[i] == stamps[i - 1] else "is earlier than"
        raise ValueError(f"data row {i + 1} ({when}) {how} the row before it; the scorer reads a "
                         "series in time order: sort the rows by time and keep one row per time")
    return score_series(np.array([s[4] for s in samples]), stamps).tolist()
