"""Settings of the incidents service (environment variables prefixed CLOSEDLOOP_)."""
from __future__ import annotations

from pydantic import Field, field_validator

from shared.ack_links import check_keys
from shared.errors import Invalid
from shared.lengths import parse_length
from shared.settings import ServiceSettings

from services.incidents.domain import GroupRule, StormRule
from services.incidents.domain.grouping import parse_group_by
from services.incidents.domain.storm import parse_storm
from services.incidents.checklist_templates import load_checklists
from services.incidents.sla_policies import load_policies
from services.incidents.domain.closing_policy import (
    DEFAULT_CLOSING_PATHS, ClosingPolicy, parse_closing_paths,
)


class IncidentsSettings(ServiceSettings):
    service: str = "incidents"
    sla_poll_seconds: float = 1.0  # how often the SLA watch looks for missed deadlines
    sla_batch: int = 100
    # SLA policies and calendars (YAML or JSON, docs/deployment.md); empty: the shipped
    # defaults. Checked when the settings load: a bad file stops the start naming the field.
    sla_policies_file: str = ""
    # SOP checklists with time boxes and communication templates per severity and type (YAML
    # or JSON, docs/checklists.md; examples/checklists/p0.yaml). Empty: no checklists.
    checklists_file: str = ""
    # Checks the one-click acknowledge links the notifier puts in pages (the notifier signs
    # with the same key). Comma-separated: every key verifies. Empty: the links are refused.
    ack_link_key: str = Field("", repr=False)
    # Grouping (docs/adr/grouping-and-storms.md): alerts with the same values of these labels
    # (`entity` and `alertname` work without a label) join one incident for `group_window`
    # from its opening, e.g. CLOSEDLOOP_GROUP_BY=store. Empty: one incident per fingerprint.
    group_by: str = ""
    group_window: str = "30m"
    # Storm control: more than <count> new incidents within <length> gathers further alerts
    # under one storm incident, e.g. CLOSEDLOOP_STORM_CONTROL=50/60s. Empty or off: none.
    storm_control: str = ""
    storm_poll_seconds: float = 1.0  # how often the storm watch looks whether a storm ended

    # How a resolved incident closes, by severity (docs/adr/closing-paths.md): required (a
    # CAPA case closes it), optional (a person closes it with a note, or opens a case) or
    # observe:<length> (closes by itself when its alert stays clear that long; s, m, h, d).
    # A false positive always closes at once. CLOSEDLOOP_CLOSING_PATHS.
    closing_paths: str = DEFAULT_CLOSING_PATHS

    # Manual intake's problem types (empty: the shipped intake/problem_types.yaml), and when
    # the learned classifier takes part: from this many labels, retrained every N new ones.
    problem_types_file: str = ""
    classifier_min_examples: int = Field(30, ge=2)
    classifier_retrain_every: int = Field(20, ge=1)
    classifier_model_threshold: float = Field(0.5, ge=0, le=1)

    _check_ack_link_key = field_validator("ack_link_key")(check_keys)

    @field_validator("closing_paths")
    @classmethod
    def _check_closing_paths(cls, value: str) -> str:
        try:
            parse_closing_paths(value)
        except Invalid as error:  # pydantic reports ValueErrors with the variable's name
            raise ValueError(error.message) from None
        return value

    def closing_policy(self) -> ClosingPolicy:
        return parse_closing_paths(self.closing_paths)

    @field_validator("sla_policies_file")
    @classmethod
    def _check_sla_policies(cls, value: str) -> str:
        load_policies(value)  # SlaPolicyError is a ValueError: pydantic names the setting
        return value

    @field_validator("checklists_file")
    @classmethod
    def _check_checklists(cls, value: str) -> str:
        load_checklists(value)  # ChecklistConfigError is a ValueError: pydantic names it
        return value

    @field_validator("group_by", "group_window", "storm_control")
    @classmethod
    def _check_triage(cls, value: str, info) -> str:
        try:
            {"group_by": parse_group_by, "group_window": lambda v: parse_length("group_window", v),
             "storm_control": _storm_rule}[info.field_name](value)
        except Invalid as error:  # pydantic names the variable; the message names the fix
            raise ValueError(error.message) from None
        return value

    def grouping(self) -> GroupRule:
        return GroupRule(parse_group_by(self.group_by),
                         parse_length("group_window", self.group_window))

    def storm_rule(self) -> StormRule:
        return _storm_rule(self.storm_control)


def _storm_rule(text: str) -> StormRule:
    threshold, length = parse_storm(text)
    return StormRule(threshold, parse_length("storm_control", length)) if threshold \
        else StormRule()
