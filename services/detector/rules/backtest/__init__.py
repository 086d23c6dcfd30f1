"""Backtesting: replay one rule over history, score its alerts against labelled anomaly
windows, and sweep a bound to recommend a setting (docs/backtesting.md). Pure: no I/O."""
from .lead_time import predictions
from .model import AlertSpan, Replay, Scores, Sweep, Window
from .readers import parse_timestamp, read_samples_csv, read_windows
from .replay import replay, spans_from_transitions
from .scoring import score
from .sweep import bound_paths, sweep

__all__ = [
    "AlertSpan", "Replay", "Scores", "Sweep", "Window", "bound_paths", "parse_timestamp", "predictions",
    "read_samples_csv", "read_windows", "replay", "score", "spans_from_transitions", "sweep",
]
