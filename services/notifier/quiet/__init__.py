"""Who is told, and when not: the routing tree that picks escalation policies from an
alert's labels, and the quiet rules (silences, maintenance windows, inhibition rules) that
hold an alert's notifications, with Alertmanager's matchers and meaning."""
from services.notifier.quiet.cache import QuietCache, QuietRules
from services.notifier.quiet.holds import Hold, HoldKind, hold_ends, held_by
from services.notifier.quiet.index import QUIET_INDEX_ID, QuietIndex
from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.quiet.matchers import Matcher, MatchType, parse_matcher, parse_matchers
from services.notifier.quiet.routes import ROUTES_ID, Routes
from services.notifier.quiet.silences import Silence, SilenceState
from services.notifier.quiet.tree import Route, Routed, parse_tree, route
from services.notifier.quiet.windows import MaintenanceWindow

__all__ = [
    "QuietCache", "QuietRules", "Hold", "HoldKind", "hold_ends", "held_by", "QUIET_INDEX_ID",
    "QuietIndex", "InhibitionRule", "Matcher", "MatchType", "parse_matcher", "parse_matchers",
    "ROUTES_ID", "Routes", "Silence", "SilenceState", "Route", "Routed", "parse_tree", "route",
    "MaintenanceWindow",
]
