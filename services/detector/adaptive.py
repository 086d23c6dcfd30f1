"""Adaptive, causal, online anomaly scorer for one numeric series.

No per-series thresholds and no look-ahead: the score of point i depends on points 0..i only.

Method, per point:

1. *Surprise* of the value under three cheap models, each in units of that model's own
   recent error scale (robust EWMA mean/variance, innovations clipped at ``CLIP`` sigmas so
   one outlier cannot inflate the scale):
   - level: distance from a fast and a slow exponentially weighted mean,
   - change: size of the first difference,
   - season: distance from this time-of-day slot's own EWMA (288 five-minute slots), which
     explains regular daily patterns; a point is only as surprising as the *best* model
     says (the minimum of the local surprise and the seasonal surprise).
2. *Calibration*: the log surprise is smoothed over a few points and ranked against a
   decaying histogram of the series' own past surprises. The tail probability p ("how
   often was the surprise at least this large lately?") turns into a score
   ``log(p) / log(P_FLOOR)`` in [0, 1]. Ranking against the series' own history makes
   scores comparable across series of any scale or noise level, which matters because one
   global threshold serves all series. The memory grows with the series (1 / (0.2 n)) down
   to a floor, so early points are judged against what little history exists.
3. *Novel transitions* (the idea of the Contextual Anomaly Detector, CAD OSE, reduced to
   its core): the value is quantised into ``LEVELS`` levels between its running min and
   max, and for each context "previous level" and "previous two levels" we remember, as a
   bit mask, which levels have ever followed it. A point whose level has followed neither
   of its (already known) contexts is a new kind of behaviour; it scores at least
   ``NOVEL_SCORE``, just above the threshold. A new extreme counts too, because it moves
   the point to a level edge it never reached from here.
4. *Refractory period*: after a score reaches ``ANOMALY_THRESHOLD`` the next
   ``max(SUPPRESS, SUPPRESS_FRACTION * n)`` points score 0, so one incident raises one
   alert. NAB credits only the first detection in a window and charges every false alert,
   and windows of a long series are long, so the hold-off grows with the points seen.

Everything is plain float arithmetic in one loop (``_run``) shared by the per-point
``update`` and the batch ``score_series``, which is why both give identical scores.
"""
from __future__ import annotations

import csv
import math
from datetime import datetime, timezone

import numpy as np

# Score at/above which a point counts as anomalous (the NAB sweep on the dev set agrees).
ANOMALY_THRESHOLD = 0.5

ALPHA_FAST, ALPHA_SLOW, ALPHA_DIFF, ALPHA_SEASON = 0.05, 0.01, 0.01, 0.1
CLIP = 4.0          # innovations beyond CLIP sigmas are clipped before updating statistics
VAR_FLOOR = 0.01    # each model's variance is floored at this fraction of the slow variance
SLOTS, PERIOD = 288, 86400.0   # time-of-day slots (5 minutes) over one day
SEASON_MIN = 2      # visits before a slot's seasonal estimate is trusted
OFFSET = 0.1        # surprise -> log(surprise + OFFSET), so "no surprise" stays finite
SMOOTH = 0.5        # EWMA weight of the newest log surprise
BINS, U_MAX = 48, 1000.0       # histogram of log surprise, from log(OFFSET) to log(U_MAX)
MEMORY_FRACTION = 0.2          # histogram memory ~ 0.2 * points seen ...
MIN_DECAY = 0.002              # ... but never longer than ~500 points
PRIOR = 1.0         # pseudo-count that keeps p > 0 for a never-seen surprise
P_FLOOR = 1e-3      # tail probability that maps to score 1
WARMUP = 100        # points before any score is given
LEVELS = 7          # quantisation levels of the value between its running min and max
NOVEL_WARMUP = 50   # points before a novel transition may be reported
NOVEL_SCORE = 0.6   # score of a novel transition (just above the threshold)
SUPPRESS = 120      # points silenced after an alert, at least ...
SUPPRESS_FRACTION = 0.05  # ... or this fraction of the points seen so far

_U_LO = math.log(OFFSET)
_BIN_SCALE = BINS / (math.log(U_MAX + OFFSET) - _U_LO)
_LOG_P_FLOOR = math.log(P_FLOOR)


class AdaptiveScorer:
    """Online scorer for one series: ``update(value, ts)`` returns a score in [0, 1]."""

    __slots__ = ("n", "prev", "mean_f", "var_f", "mean_s", "var_s", "var_d", "smooth",
                 "season_mean", "season_var", "season_seen", "hist", "hist_total",
                 "hist_weight", "quiet", "lo", "hi", "lv1", "lv2", "trans")

    def __init__(self) -> None:
        self.n = 0
        self.prev = self.mean_f = self.var_f = self.mean_s = self.var_s = self.var_d = 0.0
        self.smooth = 0.0
        self.season_mean = [0.0] * SLOTS
        self.season_var = [0.0] * SLOTS
        self.season_seen = [0] * SLOTS
        self.hist = [0.0] * BINS
        # Instead of decaying every bin each step, new counts weigh more and more.
        self.hist_total, self.hist_weight = 0.0, 1.0
        self.quiet = 0
        # level sequence model: running range, last two levels, followers seen per context
        self.lo, self.hi, self.lv1, self.lv2 = math.inf, -math.inf, -1, -1
        self.trans = [0] * (LEVELS + LEVELS * LEVELS)

    def update(self, value: float, ts: float) -> float:
        return _run(self, (float(value),), (float(ts),))[0]

    def state_bytes(self) -> int:
        """Approximate memory held: 8 bytes per number (what a C or numpy layout needs)."""
        return 8 * (3 * SLOTS + BINS + LEVELS + LEVELS * LEVELS + 20)


def _run(st: AdaptiveScorer, values, stamps) -> list[float]:
    """Score ``values`` in order, updating ``st``; the single implementation of the method."""
    n, prev = st.n, st.prev
    mean_f, var_f, mean_s, var_s, var_d = st.mean_f, st.var_f, st.mean_s, st.var_s, st.var_d
    smooth, quiet = st.smooth, st.quiet
    s_mean, s_var, s_seen, hist = st.season_mean, st.season_var, st.season_seen, st.hist
    h_total, h_weight = st.hist_total, st.hist_weight
    lo, hi, lv1, lv2, trans = st.lo, st.hi, st.lv1, st.lv2, st.trans
    sqrt, log, slot_len = math.sqrt, math.log, PERIOD / SLOTS
    top = LEVELS - 1
    out = []
    for x, t in zip(values, stamps):
        if not (math.isfinite(x) and math.isfinite(t)):
            out.append(0.0)  # a gap says nothing; keep the state as it is
            continue
        # 0. level sequence model: is this level new after the previous one (two)?
        if x < lo:
            lo = x
        if x > hi:
            hi = x
        span = hi - lo
        lv = int((x - lo) / span * top + 0.5) if 0.0 < span < math.inf else 0
        bit, novel = 1 << lv, False
        if lv1 >= 0:
            seen1 = trans[lv1]
            trans[lv1] = seen1 | bit
            if lv2 >= 0:
                key = LEVELS + LEVELS * lv2 + lv1
                seen2 = trans[key]
                trans[key] = seen2 | bit
                novel = seen2 != 0 and not (seen1 | seen2) & bit
        lv2, lv1 = lv1, lv
        slot = int((t % PERIOD) // slot_len)
        if n == 0:
            prev = mean_f = mean_s = x
            s_mean[slot], s_seen[slot] = x, 1
            n = 1
            out.append(0.0)
            continue
        # 1. surprise under the local models (level fast/slow, first difference)
        floor = VAR_FLOOR * var_s + 1e-12 * (1.0 + mean_s * mean_s)
        e_f, e_s, d = x - mean_f, x - mean_s, x - prev
        sd_f, sd_s, sd_d = sqrt(var_f + floor), sqrt(var_s + floor), sqrt(var_d + floor)
        surprise = max(abs(e_f) / sd_f, abs(e_s) / sd_s, abs(d) / sd_d)
        # ... and under the time-of-day model, which may explain it away
        seen = s_seen[slot]
        if seen >= SEASON_MIN:
            e = x - s_mean[slot]
            sd = sqrt(s_var[slot] + floor)
            surprise = min(surprise, abs(e) / sd)
            e = max(-CLIP * sd, min(CLIP * sd, e))
            s_mean[slot] += ALPHA_SEASON * e
            s_var[slot] = (1.0 - ALPHA_SEASON) * (s_var[slot] + ALPHA_SEASON * e * e)
        elif seen == 0:
            s_mean[slot], s_var[slot] = x, var_s
        else:  # second visit: average the two
            e = x - s_mean[slot]
            s_mean[slot] += 0.5 * e
            s_var[slot] = 0.5 * (s_var[slot] + e * e)
        s_seen[slot] = seen + 1
        # update the local models with clipped innovations
        e_f = max(-CLIP * sd_f, min(CLIP * sd_f, e_f))
        mean_f += ALPHA_FAST * e_f
        var_f = (1.0 - ALPHA_FAST) * (var_f + ALPHA_FAST * e_f * e_f)
        e_s = max(-CLIP * sd_s, min(CLIP * sd_s, e_s))
        mean_s += ALPHA_SLOW * e_s
        var_s = (1.0 - ALPHA_SLOW) * (var_s + ALPHA_SLOW * e_s * e_s)
        d = max(-CLIP * sd_d, min(CLIP * sd_d, d))
        var_d = (1.0 - ALPHA_DIFF) * (var_d + ALPHA_DIFF * d * d)
        prev = x
        n += 1
        # 2. calibrate: tail probability of the smoothed log surprise in the own history
        u = log(surprise + OFFSET)
        smooth += SMOOTH * (u - smooth)
        b = int((smooth - _U_LO) * _BIN_SCALE)
        b = 0 if b < 0 else (BINS - 1 if b >= BINS else b)
        p = (sum(hist[b:]) + h_weight * PRIOR) / (h_total + h_weight * PRIOR)
        b = int((u - _U_LO) * _BIN_SCALE)
        b = 0 if b < 0 else (BINS - 1 if b >= BINS else b)
        hist[b] += h_weight
        h_total += h_weight
        h_weight /= 1.0 - max(MIN_DECAY, 1.0 / (MEMORY_FRACTION * n + 1.0))
        if h_weight > 1e100:  # renormalise long before floats overflow
            for i in range(BINS):
                hist[i] /= h_weight
            h_total /= h_weight
            h_weight = 1.0
        score = min(1.0, max(0.0, log(p) / _LOG_P_FLOOR)) if n >= WARMUP else 0.0
        if novel and n >= NOVEL_WARMUP and score < NOVEL_SCORE:
            score = NOVEL_SCORE
        # 3. one alert per incident
        if quiet > 0:
            quiet -= 1
            score = 0.0
        elif score >= ANOMALY_THRESHOLD:
            quiet = max(SUPPRESS, int(SUPPRESS_FRACTION * n))
        out.append(score)
    st.n, st.prev = n, prev
    st.mean_f, st.var_f, st.mean_s, st.var_s, st.var_d = mean_f, var_f, mean_s, var_s, var_d
    st.smooth, st.quiet, st.hist_total, st.hist_weight = smooth, quiet, h_total, h_weight
    st.lo, st.hi, st.lv1, st.lv2 = lo, hi, lv1, lv2
    return out


def score_series(values: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Scores of a whole series, identical to ``update`` point by point, in one tight loop."""
    values = np.asarray(values, dtype=float)
    ts = np.asarray(ts, dtype=float)
    if values.shape != ts.shape:
        raise ValueError("values and ts must have the same length")
    return np.asarray(_run(AdaptiveScorer(), values.tolist(), ts.tolist()), dtype=float)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.strip()).replace(tzinfo=timezone.utc).timestamp()


def score_csv(path: str) -> list[float]:
    """Scores of a NAB ``timestamp,value`` CSV (header row), one per data row."""
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f)][1:]
    values = np.array([float(r[1]) for r in rows])
    stamps = np.array([_epoch(r[0]) for r in rows])
    return score_series(values, stamps).tolist()
