"""Predictive alerts: when will the metric cross the bound at its current trend and season?
An additive damped-trend ETS (Holt-Winters) model per series, fitted by statsmodels on the
trailing window every `refit` samples and updated online in between (vectorised), so most
samples cost a few array operations and a refit costs one statsmodels fit."""
from __future__ import annotations

import warnings

import numpy as np

from ..catalogue import PredictShape
from .base import NAN, Measure, Round, Slots

SIGMA_FLOOR = 1e-6  # relative: a perfectly fitted line still gets a non-zero spread
BIAS_RATE = 0.2     # how fast the running mean of one-step errors follows
BIAS_REFIT = 1.0    # refit early once that mean drifts this many σ: the model fell behind


def fit_ets(y: np.ndarray, period: int) -> tuple[float, ...]:
    """(alpha, beta*, gamma, phi, level, trend, sigma², season…) of an additive damped-trend
    ETS fitted on y (causal: y ends at the current sample)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    seasonal = period > 1
    with warnings.catch_warnings():  # convergence chatter on short, noisy windows
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(
            y, trend="add", damped_trend=True, seasonal="add" if seasonal else None,
            seasonal_periods=period if seasonal else None,
            initialization_method="heuristic").fit(use_brute=False)
    p = fit.params
    gamma = float(p["smoothing_seasonal"]) if seasonal else 0.0
    season = np.asarray(fit.season[-period:], dtype=float) if seasonal else np.zeros(1)
    sigma2 = float(fit.sse) / max(len(y) - 1, 1)
    return (float(p["smoothing_level"]), float(p["smoothing_trend"]), gamma,
            float(p["damping_trend"]), float(fit.level[-1]), float(fit.trend[-1]), sigma2,
            *season.tolist())


class Predict(Measure):
    """Per slot: the trailing window of values and the fitted model's state. `compute`
    leaves each sample's forecast path (mean, sd per step ahead) for the predict leaf, and
    returns the forecast at the horizon (NaN until the first fit)."""
    kind = "predict"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.shape = s = PredictShape.of(spec, interval)
        self.state = Slots(ring=(np.float64, NAN, s.window), seen=(np.int64, 0),
                           since_fit=(np.int64, 0), fitted=(np.bool_, False),
                           alpha=(np.float64, 0.0), beta=(np.float64, 0.0),
                           gamma=(np.float64, 0.0), phi=(np.float64, 1.0),
                           level=(np.float64, NAN), trend=(np.float64, 0.0),
                           sigma2=(np.float64, 0.0), bias=(np.float64, 0.0), season=(np.float64, 0.0, s.period))
        self.steps = np.arange(1, s.steps + 1)
        self.fits = 0  # statsmodels fits so far (benchmarks report the cost per fit)
        self.failed = 0  # fits refused for non-finite results; the last model stays
        self.mean = self.sd = np.empty((0, s.steps))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:  # no forecast on a clock tick: a path of unknowns, one per slot
            self.mean = self.sd = np.full((len(rnd.slots), self.shape.steps), NAN)
            return rnd.unknown()
        st, slots, v, sh = self.state, rnd.slots, rnd.values, self.shape
        seen = st["seen"][slots]
        st["ring"][slots, seen % sh.window] = v
        st["seen"][slots] = seen + 1
        phase = rnd.bucket % sh.period
        fitted = st["fitted"][slots]
        self._update(slots[fitted], v[fitted], phase[fitted])
        since = st["since_fit"][slots] + 1
        # Weights fitted on a flat stretch (α, β ≈ 0) would never follow a new trend: a
        # one-step error that keeps one sign refits before the schedule does.
        behind = np.abs(st["bias"][slots]) > BIAS_REFIT * np.sqrt(st["sigma2"][slots])
        due = (seen + 1 >= sh.min_samples) & (~fitted | (since >= sh.refit) | behind)
        st["since_fit"][slots] = np.where(due, 0, since)
        for slot, b, count in zip(slots[due].tolist(), rnd.bucket[due].tolist(),
                                  (seen[due] + 1).tolist()):
            self._fit(slot, b, count)
        self.mean, self.sd = self._path(slots, rnd.bucket)
        known = st["fitted"][slots]
        return np.where(known, self.mean[:, -1], NAN)

    def _fit(self, slot: int, bucket: int, count: int) -> None:
        sh, st = self.shape, self.state
        n = min(count, sh.window)
        order = (np.arange(count - n, count)) % sh.window  # oldest first
        try:
            params = fit_ets(st["ring"][slot, order], sh.period)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            params = (NAN,)  # a window the optimiser cannot fit: keep the last model
        if not np.all(np.isfinite(params)):
            self.failed += 1
            return
        for name, value in zip(("alpha", "beta", "gamma", "phi", "level", "trend", "sigma2"),
                               params):
            st[name][slot] = value
        if sh.period > 1:  # the last season's states belong to the phases just seen
            phases = (bucket - np.arange(sh.period - 1, -1, -1)) % sh.period
            st["season"][slot, phases] = params[7:]
        st["fitted"][slot] = True
        st["bias"][slot] = 0.0
        self.fits += 1

    def _update(self, slots: np.ndarray, y: np.ndarray, phase: np.ndarray) -> None:
        """One step of the additive damped Holt-Winters recursions with the fitted weights."""
        if not len(slots):
            return
        st = self.state
        a, b, g, phi = (st[k][slots] for k in ("alpha", "beta", "gamma", "phi"))
        level, trend = st["level"][slots], st["trend"][slots]
        season = st["season"][slots, phase]
        base = level + phi * trend
        error = y - (base + season)
        new_level = a * (y - season) + (1 - a) * base
        st["trend"][slots] = b * (new_level - level) + (1 - b) * phi * trend
        st["season"][slots, phase] = np.where(self.shape.period > 1,
                                              g * (y - base) + (1 - g) * season, 0.0)
        st["level"][slots] = new_level
        rate = 1.0 / self.shape.window  # the spread follows recent one-step errors
        st["sigma2"][slots] = (1 - rate) * st["sigma2"][slots] + rate * error * error
        st["bias"][slots] = (1 - BIAS_RATE) * st["bias"][slots] + BIAS_RATE * error

    def _path(self, slots: np.ndarray, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd of the forecast 1..steps ahead. The sd follows the ETS(A,Ad,A)
        formula var_h = σ²(1 + Σ_{j<h} c_j²), c_j = α(1 + β*·φ_j) + γ·[m divides j]."""
        st, sh, h = self.state, self.shape, self.steps
        a, b, g, phi = (st[k][slots][:, None] for k in ("alpha", "beta", "gamma", "phi"))
        damp = np.cumsum(np.power(phi, h), axis=1)  # φ + φ² + … + φ^h
        phases = (bucket[:, None] + h) % sh.period
        season = np.take_along_axis(st["season"][slots], phases, axis=1)
        mean = st["level"][slots][:, None] + damp * st["trend"][slots][:, None] + season
        c = a * (1 + b * damp) + g * (h % sh.period == 0)
        c2 = np.concatenate([np.zeros((len(slots), 1)), np.cumsum(c * c, axis=1)[:, :-1]],
                            axis=1)
        level = np.abs(st["level"][slots])[:, None]
        sigma = np.maximum(np.sqrt(st["sigma2"][slots])[:, None],
                           SIGMA_FLOOR * np.maximum(level, 1.0))
        return mean, sigma * np.sqrt(1 + c2)

    def chance(self, kind: str, bound: np.ndarray | tuple) -> np.ndarray:
        """Probability per sample and step that the value then satisfies the bound."""
        # Here, not at the top: SciPy costs every detector 28 MiB, most never predict.
        from scipy.special import ndtr

        m, sd = self.mean, self.sd
        if kind in ("between", "outside"):
            inside = ndtr((bound[1] - m) / sd) - ndtr((bound[0] - m) / sd)
            return inside if kind == "between" else 1 - inside
        level = np.asarray(bound)[:, None] if np.ndim(bound) else bound  # graded: per row
        below = ndtr((level - m) / sd)
        return below if kind in ("below", "at_most") else 1 - below

    @property
    def bytes_per_slot(self) -> int:
        return self.state.bytes_per_slot

    def describe(self, m: float) -> str:
        return f"forecast {m:.3g} in {self.spec.horizon}"
