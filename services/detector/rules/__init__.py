"""The detector's rule language (spec) and its vectorised evaluation engine."""
from .catalogue import check_rule, rule_horizon
from .engine import Engine, Evaluation, Transition
from .durations import Duration, parse_duration
from .spec import (Band, Budget, Condition, MetricSpec, RuleSpec, RulesFile,
                   definition_of, load_rules_file)

__all__ = ["Band", "Budget", "Condition", "Duration", "definition_of", "Engine", "Evaluation", "MetricSpec",
           "RuleSpec", "RulesFile", "Transition", "check_rule", "load_rules_file",
           "parse_duration", "rule_horizon"]
