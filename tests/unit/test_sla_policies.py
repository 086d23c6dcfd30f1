"""SLA policies from a file: the shipped defaults, the example files, the choice by severity
and type, and the errors that stop a start naming the field."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.incidents.domain import SLA, Severity
from services.incidents.settings import IncidentsSettings
from services.incidents.sla_policies import (
    SlaPolicyError, default_policies, load_policies, parse_duration,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sla"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def write(tmp_path: Path, text: str, name: str = "sla.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_file_the_shipped_targets_hold_on_a_24x7_clock():
    at = datetime(2026, 11, 6, 17, 50, tzinfo=SHANGHAI)
    for severity, sla in SLA.items():
        policy = default_policies().policy(severity)
        assert policy.due("respond", at) == (at + sla.respond, None)
        assert policy.due("resolve", at) == (at + sla.resolve, None)
        assert policy.due("close", at) is None


def test_the_defaults_file_says_what_the_shipped_defaults_are():
    written, shipped = load_policies(EXAMPLES / "defaults.yaml"), default_policies()
    at = datetime(2026, 11, 6, 17, 50, tzinfo=SHANGHAI)
    for severity in Severity:
        for kind in ("respond", "resolve"):
            assert written.policy(severity).due(kind, at) == shipped.policy(severity).due(kind, at)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.iterdir()))
def test_every_example_file_loads(name):
    assert load_policies(EXAMPLES / name).policy(Severity.P3)


def test_the_seeds_targets_differ_by_file():
    at = datetime(2026, 11, 6, 10, 0, tzinfo=SHANGHAI)  # a Friday morning
    retail = load_policies(EXAMPLES / "retail-stores.yaml").policy(Severity.P0)
    assert retail.due("respond", at) == (at + timedelta(hours=1), at + timedelta(minutes=45))
    food = load_policies(EXAMPLES / "food-safety.yaml")
    assert food.policy(Severity.P0).due("respond", at)[0] == at + timedelta(minutes=15)
    desk = load_policies(EXAMPLES / "it-support.yaml").policy(Severity.P1)
    assert desk.due("respond", at)[0] == at + timedelta(minutes=30)
    # 11:00 + 2 h of desk time, 12:00–13:00 being lunch.
    eleven = datetime(2026, 11, 6, 11, 0, tzinfo=SHANGHAI)
    assert desk.due("resolve", eleven)[0] == datetime(2026, 11, 6, 14, 0, tzinfo=SHANGHAI)


def test_a_type_specific_policy_refines_its_severitys_and_falls_back_to_it():
    food = load_policies(EXAMPLES / "food-safety.yaml")
    at = datetime(2026, 11, 6, 10, 0, tzinfo=SHANGHAI)
    typed = food.policy(Severity.P0, "food_safety")
    assert typed.due("resolve", at) == (at + timedelta(hours=2), at + timedelta(hours=1))
    assert food.policy(Severity.P0, "delivery").due("resolve", at)[0] == at + timedelta(hours=4)


@pytest.mark.parametrize(("text", "field", "fix"), [
    ("policies: [{severity: P0, respond: soon, resolve: 4h}]", "policies.0.respond",
     "write 15m, 2h"),
    ("policies: [{severity: P5, respond: 5m, resolve: 4h}]", "policies.0.severity", "P0"),
    ("policies: [{severity: P0, respond: 5m}]", "policies.0.resolve", "required"),
    ("policies: [{severity: P0, respond: 5m, resolve: 4h, calendar: office}]",
     "policies.0.calendar", "neither 24x7 nor a calendar"),
    ("policies: [{severity: P0, respond: 5m, resolve: 4h}]", "policies",
     "no policy without a type for P1, P2, P3"),
    ("at_risk: 1.5\npolicies: []", "at_risk", "less than 1"),
    ("calendars: {c: {time_zone: Mars/Base, hours: {mon: '09:00-18:00'}}}\npolicies: []",
     "calendars.c.time_zone", "IANA"),
    ("calendars: {c: {time_zone: UTC, hours: {monday: '09:00-18:00'}}}\npolicies: []",
     "calendars.c.hours", "not a weekday"),
    ("calendars: {c: {time_zone: UTC, hours: {mon: '18:00-09:00'}}}\npolicies: []",
     "calendars.c.hours", "ends before it begins"),
    ("calendars: {c: {time_zone: UTC, hours: {mon: '09:00-18:00'}, holidays: XX}}\n"
     "policies: []", "calendars.c.holidays", "does not know 'XX'"),
    ("policies: [{severity: P0, respond: 5m, resolve: 4h, colour: red}]", "policies.0.colour",
     "Extra inputs"),
])
def test_a_bad_file_is_refused_naming_the_field_and_the_fix(tmp_path, text, field, fix):
    with pytest.raises(SlaPolicyError) as refused:
        load_policies(write(tmp_path, text))
    assert f": {field}: " in str(refused.value) and fix in str(refused.value)


def test_a_second_policy_for_the_same_severity_and_type_is_refused(tmp_path):
    text = "\n".join(["policies:", *(f"  - {{severity: {s}, respond: 5m, resolve: 4h}}"
                                     for s in ("P0", "P1", "P2", "P3", "P1"))])
    with pytest.raises(SlaPolicyError, match=r"policies\.4: a second policy for P1"):
        load_policies(write(tmp_path, text))


def test_a_missing_file_stops_the_settings_naming_the_setting(tmp_path):
    with pytest.raises(ValueError, match="sla_policies_file") as refused:
        IncidentsSettings(sla_policies_file=str(tmp_path / "absent.yaml"))
    assert "cannot be read" in str(refused.value)


def test_durations():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration(90) == timedelta(seconds=90)
    for bad in ("0m", "", "1x", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_the_policies_in_force_can_be_shown():
    shown = load_policies(EXAMPLES / "retail-stores.yaml").view()
    assert shown["source"].endswith("retail-stores.yaml")
    p2 = next(p for p in shown["policies"] if p["name"] == "P2")
    assert p2 == {"name": "P2", "severity": "P2", "type": None, "calendar": "store-office",
                  "at_risk": 0.75, "targets": {"respond": 14400.0, "resolve": 259200.0,
                                               "close": 2592000.0},
                  "update_every": 32400.0}  # one store-office day of updates
    assert default_policies().view()["source"] is None
