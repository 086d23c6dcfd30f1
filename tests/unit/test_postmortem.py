"""Postmortems from a case built the way the consumer and the API build it: the incident's
public lifecycle heard on the bus, a 5-whys analysis, actions verified by someone else. The
Markdown and HTML are compared with snapshots (CLOSEDLOOP_UPDATE_SNAPSHOTS=1 writes them
anew); the PDF is read back for its text, Chinese included."""
from __future__ import annotations

import io
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader

from services.capa.app import CapaApplication
from services.capa.postmortem import postmortem_facts, render
from services.capa.postmortem.render import duration
from shared.clock import ManualClock
from shared.contracts import (
    CloudEvent, Contract, IncidentAcknowledged, IncidentDrillFlagged, IncidentOpened,
    IncidentProgressPosted, IncidentResolved, IncidentSeverityChanged, IncidentSlaBreached,
)
from shared.store import Tracking

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
SNAPSHOTS = Path(__file__).parent / "snapshots" / "postmortem"
CAUSE = {"correlation_id": "corr-1", "causation_id": "req-1", "trace": {}}
INCIDENT, REF = "inc-pm-1", "P1-2026-11-007"


class Story:
    """A capa application fed contracts the way its consumer feeds them."""

    def __init__(self, env: dict[str, str]) -> None:
        self.clock = ManualClock(T0)
        self.app = CapaApplication(env, self.clock)
        self.sequence = 0

    def hear(self, contract: Contract, handler=None) -> None:
        self.sequence += 1
        envelope = CloudEvent(id=f"m-{self.sequence}", source="closedloop/incidents",
                              type=contract.type_name(), time=T0,
                              data=contract.model_dump(mode="json"))
        (handler or self.app.handle_incident_fact)(envelope, contract,
                                                   Tracking("INCIDENTS", self.sequence))

    def at(self, minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    def postmortem(self) -> dict:
        case = self.app.case(self.capa_id)
        return postmortem_facts(case, self.app.incident_facts(INCIDENT))

    @property
    def capa_id(self):
        from services.capa.domain import CapaCase
        return CapaCase.create_id(INCIDENT)


@pytest.fixture
def story(store_env) -> Story:
    s = Story(store_env)
    # The incident: opened as P1, raised to P0, acknowledged late, restored after 95 minutes.
    s.hear(IncidentOpened(incident_id=INCIDENT, ref=REF, fingerprint="fp-1", severity="P1",
                          title="门店 42 收银超时", entity="store-42", alert_id="a-1",
                          opened_at=T0, respond_by=s.at(15), resolve_by=s.at(240)))
    s.hear(IncidentSeverityChanged(incident_id=INCIDENT, ref=REF, severity="P0", previous="P1",
                                   reason="all tills down", by="lead", respond_by=s.at(5),
                                   resolve_by=s.at(60), acknowledged=False, status="open",
                                   at=s.at(3)))
    s.hear(IncidentSlaBreached(incident_id=INCIDENT, ref=REF, severity="P0", kind="respond",
                               deadline=s.at(5), at=s.at(5)))
    s.hear(IncidentAcknowledged(incident_id=INCIDENT, ref=REF, by="alice", at=s.at(12)))
    s.hear(IncidentProgressPosted(incident_id=INCIDENT, ref=REF, number=1, author="alice",
                                  text="payment gateway | timeouts", at=s.at(30)))
    s.hear(IncidentSlaBreached(incident_id=INCIDENT, ref=REF, severity="P0", kind="resolve",
                               deadline=s.at(60), at=s.at(60)))
    resolved = IncidentResolved(incident_id=INCIDENT, ref=REF, severity="P0",
                                title="门店 42 收银超时", entity="store-42", by="alice",
                                summary="restarted the gateway", at=s.at(95))
    s.clock.advance(timedelta(minutes=95))  # capa hears of it as it happens
    s.hear(resolved, s.app.handle_incident_resolved)
    s.hear(resolved, s.app.handle_incident_resolved)  # published twice: heard once

    # The case: analysed by 5 whys, one action of each kind, one reopened before it held.
    s.clock.advance(timedelta(hours=2))
    s.app.record_root_cause(s.capa_id, by="alice", cause=CAUSE, method="5whys",
                            statement="gateway pool too small for the evening peak",
                            whys=["tills timed out", "gateway refused connections",
                                  "pool was 10"], category=None, contributing_factors=[])
    for kind, title, owner in (("corrective", "raise gateway pool to 50", "alice"),
                               ("preventive", "load test the gateway weekly", "dan")):
        s.app.add_action(s.capa_id, by="lead", cause=CAUSE, kind=kind, title=title, owner=owner,
                         due_date=date(2026, 11, 20), acceptance_criteria="no timeouts at 2x")
    s.clock.advance(timedelta(days=1))
    for action, owner in (("A-1", "alice"), ("A-2", "dan")):
        s.app.complete_action(s.capa_id, action, by=owner, evidence=f"change {action}",
                              as_manager=False, cause=CAUSE)
    s.app.verify_action(s.capa_id, "A-1", verifier="bob", effective=False,
                        note="timeouts came back at 19:00", cause=CAUSE)
    s.app.complete_action(s.capa_id, "A-1", by="alice", evidence="pool 50 + circuit breaker",
                          as_manager=False, cause=CAUSE)
    for action in ("A-1", "A-2"):
        s.app.verify_action(s.capa_id, action, verifier="bob", effective=True, note="checked",
                            cause=CAUSE)
    # No alert to watch through a window: a person other than the owners checks the fix.
    s.clock.advance(timedelta(days=3))
    s.app.record_effectiveness_check(s.capa_id, verifier="bob", text="no timeouts at two peaks",
                                     evidence="gateway dashboard", cause=CAUSE)
    return s


def test_impact_is_measured_from_the_incident_facts_heard_on_the_bus(story):
    pm = story.postmortem()
    impact = pm["impact"]
    assert (pm["severity"], pm["status"]) == ("P0", "closed")  # the severity it ended with
    assert (impact["duration_minutes"], impact["acknowledge_minutes"]) == (95, 12)
    assert (impact["respond_sla"], impact["resolve_sla"]) == ("breached", "breached")
    assert impact["resolve_by"] == story.at(60)  # the P0's deadline, not the P1's
    kinds = [e["kind"] for e in pm["timeline"]]
    assert kinds[:7] == ["opened", "severity_changed", "sla_breached", "acknowledged",
                         "progress", "sla_breached", "resolved"]
    assert kinds.count("resolved") == 1 and kinds[-1] == "capa_closed"
    assert [lesson["kind"] for lesson in pm["lessons"]] == [
        "root_cause", "not_effective", "respond_breached", "resolve_breached", "prevent"]


def test_slas_are_met_or_unknown_when_nothing_says_otherwise(store_env):
    s = Story(store_env)
    s.hear(IncidentResolved(incident_id=INCIDENT, ref=REF, severity="P2", title="t",
                            entity="e", by="bob", at=T0), s.app.handle_incident_resolved)
    impact = s.postmortem()["impact"]
    assert (impact["respond_sla"], impact["duration_minutes"]) == ("unknown", None)
    s.hear(IncidentOpened(incident_id=INCIDENT, ref=REF, fingerprint="f", severity="P2",
                          title="t", entity="e", alert_id="a", opened_at=T0 - timedelta(hours=1),
                          respond_by=T0, resolve_by=T0 + timedelta(hours=4)))
    impact = s.postmortem()["impact"]
    assert (impact["resolve_sla"], impact["duration_minutes"]) == ("met", 60)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_document_matches_its_snapshot(story, fmt, lang):
    text = render(story.postmortem(), fmt, lang).decode()
    snapshot = SNAPSHOTS / lang / f"postmortem.{fmt}"
    if os.environ.get("CLOSEDLOOP_UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text)
    assert snapshot.exists(), f"no snapshot {snapshot}: run with CLOSEDLOOP_UPDATE_SNAPSHOTS=1"
    assert text == snapshot.read_text()


def test_an_effectiveness_result_is_rendered_when_the_case_has_one(story):
    pm = story.postmortem()
    assert "- result: effective\n- window_days: 7.0\n- checked_by: bob\n" in render(
        pm, "md", "en").decode()
    pm["effectiveness"] = None  # a case still in analysis
    assert "Not yet assessed." in render(pm, "md", "en").decode()
    assert "尚未评估。" in render(pm, "md", "zh").decode()
    pm["effectiveness"] = {"result": "effective", "window_days": 30, "recurrences": 0}
    assert "- result: effective\n- window_days: 30\n" in render(pm, "md", "en").decode()


def test_people_s_text_cannot_break_the_html_or_reach_the_template_engine(story):
    pm = story.postmortem()
    pm["title"] = "<script>alert(1)</script> {{ 7*7 }}"
    html = render(pm, "html", "en").decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "{{ 7*7 }}" in html and "49" not in html
    assert "payment gateway \\| timeouts" in render(pm, "md", "en").decode()


def test_durations_read_naturally_in_both_languages():
    assert duration(95, "en") == "1 h 35 min" and duration(95, "zh") == "1小时35分钟"
    assert duration(0, "en") == "0 min" and duration(60 * 26, "zh") == "1天2小时"


@pytest.mark.parametrize("lang,words", [("en", "Root cause"), ("zh", "根本原因")])
def test_the_pdf_holds_the_document_s_text(story, lang, words):
    pdf = render(story.postmortem(), "pdf", lang)
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert words in text and REF in text
    assert "门店 42 收银超时" in text  # the CJK title, drawn with a CJK font


def test_a_fishbone_analysis_shows_its_category_and_factors(store_env):
    s = Story(store_env)
    s.hear(IncidentResolved(incident_id=INCIDENT, ref=REF, severity="P2", title="NPS fell",
                            entity="store-9", by="bob", at=T0), s.app.handle_incident_resolved)
    s.app.record_root_cause(s.capa_id, by="bob", cause=CAUSE, method="fishbone",
                            statement="new staff were never trained on returns", whys=[],
                            category="人", contributing_factors=[
                                {"category": "环", "factor": "holiday rush"}])
    pm = s.postmortem()
    zh, en = render(pm, "md", "zh").decode(), render(pm, "md", "en").decode()
    assert "分析方法：鱼骨图（人机料法环测） · 类别 人 (man)" in zh
    assert "- 环 (environment)：holiday rush" in zh
    assert "Method: fishbone (人机料法环测) · category 人 (man)" in en
    assert "- A factor around it: 环 (environment) holiday rush" in en
    assert "| Respond SLA (by —) | unknown |" in en  # resolved before capa heard its opening


def test_a_drills_postmortem_says_so_first(story):
    flagged = IncidentDrillFlagged(incident_id=INCIDENT, ref=REF, reason="gateway drill",
                                   by="lead", at=story.at(100))
    story.hear(flagged, story.app.handle_incident_drill_flagged)
    pm = story.postmortem()
    assert pm["drill"] is True
    assert "**DRILL (演练)**: this case comes from a drill and counts in no KPI." in render(
        pm, "md", "en").decode()
    assert "<strong>演练（DRILL）</strong>" in render(pm, "html", "zh").decode()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_event_of_a_case_has_a_timeline_name_in_each_language(lang):
    from eventsourcing.domain import AggregateEvent

    from services.capa.domain import CapaCase
    from services.capa.postmortem.facts import _CASE_EVENTS
    from services.capa.postmortem.render import _environment

    names = {n for n in dir(CapaCase) if isinstance(getattr(CapaCase, n), type)
             and issubclass(getattr(CapaCase, n), AggregateEvent) and n not in ("Event", "Created")}
    labels = _environment(False).get_template(f"{lang}/labels.j2").module.events
    assert names and names <= set(_CASE_EVENTS)
    assert {_CASE_EVENTS[n] for n in names} <= set(labels)
