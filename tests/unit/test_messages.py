"""Messages a person can act on: every shipped template in both languages against its
snapshot (CLOSEDLOOP_UPDATE_SNAPSHOTS=1 writes them anew), operators' overrides used,
refused at start-up when they do not compile, replaced by the shipped one when they fail
to render, and kept in the sandbox."""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.notifier.channels.base import Notification
from services.notifier.messages import render
from services.notifier.main import create_app
from services.notifier.messages.render import Renderer, install
from services.notifier.messages.templates import SHIPPED, TemplateRefused, family_of
from services.notifier.settings import NotifierSettings

SNAPSHOTS = Path(__file__).parent / "snapshots" / "messages"
OPENED = datetime(2026, 11, 3, 9, 14, 6, tzinfo=timezone.utc)
NOW = OPENED + timedelta(minutes=3)
PUBLIC = "https://closedloop.example.com"
SECRETS_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="  # any Fernet key
ACK = f"{PUBLIC}/ack/2ddaf962?t=tok"

# A real reason each shipped template answers (several reasons share one template).
REASONS = {
    "incident.opened": "incident.opened", "escalation.step": "escalation.step2",
    "escalation.retrigger": "escalation.retrigger1", "late.warning": "late.respond.warning",
    "late.deadline": "late.verifying.deadline", "late.up": "late.action.up",
    "raci.assigned": "raci.assigned.responsible", "incident.acknowledged": "incident.acknowledged",
    "incident.resolved": "incident.resolved", "incident.closed": "incident.closed",
    "incident.reopened": "incident.reopened",
    "incident.severity_changed": "incident.severity_changed",
    "incident.progress": "incident.progress", "capa.systemic": "capa.systemic",
    "capa.systemic_closed": "capa.systemic_closed",
    "sla.at_risk": "sla.at_risk", "support.tier": "support.tier", "support.score": "support.score",
    "default": "something.new",
    # The progress cadence's chase has its own wording (when the last update came).
    "late.progress.warning": "late.progress.warning",
    "late.progress.deadline": "late.progress.deadline", "late.progress.up": "late.progress.up",
}


def notification(reason: str, language: str = "zh", **changes) -> Notification:
    about = None
    if reason.startswith("late."):
        kind = reason.split(".")[1]
        about = {"deadline": kind, "subject": "A-2 更换冷柜" if kind == "action" else None,
                 "phase": reason.split(".")[2],
                 "due_at": (NOW + (timedelta(minutes=20) if reason.endswith("warning")
                                   else -timedelta(minutes=7))).isoformat(),
                 "responsible": ["li.na"]}
        if kind == "progress":  # the interval started with update 3, 4 hours before it is due
            about.update(subject="3", since=(datetime.fromisoformat(about["due_at"])
                                             - timedelta(hours=4)).isoformat())
    if reason == "incident.progress":
        about = {"by": "wang.wei", "number": 3, "text": "冷柜已更换",
                 "next_update_by": (NOW + timedelta(hours=4)).isoformat()}
    if reason == "sla.at_risk":
        about = {"deadline": "resolve", "due_at": (NOW + timedelta(minutes=40)).isoformat(),
                 "responsible": ["li.na"]}
    if reason == "support.tier":  # handed over to L2 with its package
        about = {"deadline": "tier", "tier": "L2", "group": "pos-l2", "team": "POS二线",
                 "why": "hand-over", "responsible": ["zhou.min"],
                 "due_at": (NOW + timedelta(hours=2)).isoformat(),
                 "package": {"from_tier": "L1", "by": "li.na", "note": "",
                             "logs": ["https://logs.example.cn/pos/3"],
                             "reproduction": "扫码支付后小票不打印", "impact": "3 台收银机"}}
    if reason == "capa.systemic":
        about = {"systemic": {
            "id": "0f3b7c2e-8a41-5d6e-b2c9-4e7a1d3f5b60", "signature": "rule:NPS collapse",
            "rule": "NPS collapse", "recurrences": 5, "threshold": 5,
            "period_seconds": 7776000.0, "entities": ["store-017", "store-042", "store-108"],
            "incident_refs": ["P0-2026-10-002", "P0-2026-10-009", "P1-2026-11-001",
                              "P0-2026-11-003", "P0-2026-11-001"],
            "capa_ids": [], "summary": "'NPS collapse' recurred 5 times in 90 days"}}
    if reason == "capa.systemic_closed":
        about = {"systemic": {
            "id": "0f3b7c2e-8a41-5d6e-b2c9-4e7a1d3f5b60", "signature": "rule:NPS collapse",
            "rule": "NPS collapse", "root_cause": "one rota template ignores footfall",
            "actions": 2, "capa_ids": [], "recurrences": 5, "window_seconds": 2592000.0,
            "checked_by": "wang.jianguo", "check": "NPS steady on every store"}}
    base = Notification(
        delivery_id="5b0e2f4e-0000-5000-8000-000000000001", attempt=1, reason=reason,
        incident={"incident_id": "2ddaf962-0609-5a59-84a6-bf07fb002638",
                  "ref": "P0-2026-11-001", "severity": "P0",
                  "title": "Store NPS collapse on store-042", "entity": "store-042"},
        occurred_at=OPENED,
        recipient={"handle": "li.na", "name": "李娜", "language": language,
                   "time_zone": "Asia/Shanghai", "medium": "chat", "address": "robot"},
        about=about,
        facts={"metric": "nps", "value": 12.5, "threshold": 30.0,
               "firing_since": (OPENED - timedelta(minutes=2)).isoformat(),
               "opened_at": OPENED.isoformat(),
               "respond_by": (OPENED + timedelta(minutes=5)).isoformat(),
               "resolve_by": (OPENED + timedelta(hours=4)).isoformat(),
               "responsible": ["li.na", "wang.wei"]})
    return replace(base, **changes)


def shipped_templates() -> list[tuple[str, str, str]]:
    return sorted((p.parent.name, p.name.rsplit(".", 2)[0], p.name.rsplit(".", 2)[1])
                  for p in SHIPPED.glob("*/*.j2") if not p.name.startswith("_"))


def as_snapshot(message) -> str:
    return (f"template: {message.template}\nfallback: {message.fallback_reason}\n"
            f"--- subject\n{message.subject}\n--- text\n{message.text}\n"
            f"--- markdown\n{message.markdown}\n--- html\n{message.html}\n")


def test_every_reason_shipped_has_a_template_in_each_language_and_medium():
    assert len(shipped_templates()) == len(REASONS) * 2 * 3


@pytest.mark.parametrize("language,name,medium", shipped_templates())
def test_shipped_template_matches_its_snapshot(language, name, medium):
    message = render(notification(REASONS[name], language), medium, language, ack_url=ACK,
                     public_url=PUBLIC, now=NOW)
    assert message.template == f"{language}/{name}.{medium}.j2"
    assert message.fallback_reason is None
    snapshot = SNAPSHOTS / language / f"{name}.{medium}.txt"
    if os.environ.get("CLOSEDLOOP_UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(as_snapshot(message))
    assert snapshot.exists(), f"no snapshot {snapshot}: run with CLOSEDLOOP_UPDATE_SNAPSHOTS=1"
    assert as_snapshot(message) == snapshot.read_text()


@pytest.mark.parametrize("medium", ["chat", "email", "sms"])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_drills_messages_lead_with_the_drill_mark_whatever_the_template(language, medium):
    n = notification("incident.opened", language)
    n = replace(n, facts={**n.facts, "drill": True})  # as the opening's facts carry it
    message = render(n, medium, language, ack_url=ACK, public_url=PUBLIC, now=NOW)
    snapshot = SNAPSHOTS / language / f"drill.incident.opened.{medium}.txt"
    if os.environ.get("CLOSEDLOOP_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(as_snapshot(message))
    assert as_snapshot(message) == snapshot.read_text()
    mark = {"zh": "【演练】", "en": "[DRILL]"}[language]
    assert message.subject.startswith(mark) and message.text.startswith(mark)
    assert len(message.text) <= 140 or medium != "sms", message.text
    real = render(notification("incident.opened", language), medium, language, ack_url=ACK,
                  public_url=PUBLIC, now=NOW)
    assert mark not in real.subject and mark not in real.text


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("name", sorted(REASONS))
def test_an_sms_fits_one_message(language, name):
    message = render(notification(REASONS[name], language), "sms", language, ack_url=ACK,
                     public_url=PUBLIC, now=NOW)
    assert len(message.text) <= 140, message.text


def test_the_severity_colour_leads_each_level():
    for severity, badge in (("P0", "🔴 严重 P0"), ("P1", "🟠 重要 P1"), ("P2", "🟡 中度 P2"),
                            ("P3", "🔵 轻度 P3")):
        n = notification("incident.opened")
        n = replace(n, incident={**n.incident, "severity": severity})
        assert render(n, "chat", now=NOW).subject.startswith(badge)


def test_reasons_that_recur_share_their_familys_template():
    assert family_of("escalation.step1") == "escalation.step"
    assert family_of("escalation.step3.repeat2") == "escalation.step"
    assert family_of("escalation.retrigger4") == "escalation.retrigger"
    assert family_of("late.verification:A-2.deadline") == "late.verification:A-2.deadline"
    assert family_of("late.executing.up") == "late.up"
    assert family_of("raci.assigned.informed") == "raci.assigned"
    assert family_of("incident.opened") == "incident.opened"


def test_times_are_in_the_recipients_zone_and_no_public_url_means_no_link():
    n = notification("incident.opened", "en")
    n = replace(n, recipient={**n.recipient, "time_zone": "Europe/Berlin"})
    message = render(n, "chat", "en", public_url="", now=NOW)
    assert "by 2026-11-03 10:19 CET" in message.markdown
    assert "/v1/incidents/" not in message.markdown and "http" not in message.text


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_store_is_named_where_the_directory_knew_its_unit(language):
    n = notification("incident.opened", language)
    n = replace(n, facts={**n.facts, "unit": {"key": "store-042", "name": "上海徐汇店"}})
    chat, email, sms = (render(n, medium, language, ack_url=ACK, public_url=PUBLIC, now=NOW)
                        for medium in ("chat", "email", "sms"))
    where = "上海徐汇店（store-042）" if language == "zh" else "store-042 (上海徐汇店)"
    assert where in chat.text and where in chat.markdown and where in email.html
    assert chat.text.splitlines()[1].startswith("上海徐汇店")  # the lead names the store
    assert "上海徐汇店" in sms.text and len(sms.text) <= 140, sms.text


def test_without_facts_a_message_still_says_what_it_knows():
    message = render(notification("incident.opened", facts=None), "chat", now=NOW)
    assert message.fallback_reason is None
    assert "P0-2026-11-001" in message.markdown and "指标" not in message.markdown


def test_html_is_escaped_where_text_is_not():
    n = notification("incident.opened")
    n = replace(n, incident={**n.incident, "title": "<b>R&D</b> down"})
    message = render(n, "email", now=NOW)
    assert "&lt;b&gt;R&amp;D&lt;/b&gt; down" in message.html
    assert "<b>R&D</b> down" in message.text


def test_a_webhook_keeps_its_json_and_gets_the_plain_form():
    assert render(notification("incident.opened"), "webhook").template == "plain"


# -- operators' templates ---------------------------------------------------------------
def write(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def test_an_operators_template_is_used_and_may_extend_the_shipped_one(tmp_path):
    write(tmp_path, "zh/incident.opened.chat.j2",
          '{% extends "zh/_base.chat.j2" %}{% block headline %}门店告警{% endblock %}')
    write(tmp_path, "en/default.sms.j2", "{{ incident.ref }} needs you")
    renderer = Renderer(tmp_path)
    opened = renderer.render(notification("incident.opened"), "chat", now=NOW)
    assert opened.subject.startswith("🔴 严重 P0 | 门店告警：")
    assert opened.template == "override:zh/incident.opened.chat.j2"
    assert opened.fallback_reason is None
    other = renderer.render(notification("something.new", "en"), "sms", "en", now=NOW)
    assert other.text == "P0-2026-11-001 needs you"


def test_an_override_failing_at_send_time_falls_back_to_the_shipped_one(tmp_path):
    write(tmp_path, "zh/incident.opened.chat.j2", "{{ incident.ref }} {{ no_such_fact }}")
    message = Renderer(tmp_path).render(notification("incident.opened"), "chat", now=NOW)
    shipped = render(notification("incident.opened"), "chat", now=NOW)
    assert (message.subject, message.markdown) == (shipped.subject, shipped.markdown)
    assert message.template == "zh/incident.opened.chat.j2"  # the shipped one was sent
    assert "UndefinedError" in message.fallback_reason
    assert "no_such_fact" in message.fallback_reason


def test_the_sandbox_refuses_to_reach_beyond_the_facts(tmp_path):
    write(tmp_path, "zh/incident.opened.chat.j2",
          "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    write(tmp_path, "zh/incident.opened.sms.j2", "{{ incident.items.__globals__ }}")
    write(tmp_path, "zh/incident.opened.email.j2", "{{ responsible.append('mallory') }}")
    renderer = Renderer(tmp_path)
    for medium in ("chat", "sms", "email"):
        message = renderer.render(notification("incident.opened"), medium, now=NOW)
        assert "SecurityError" in message.fallback_reason or \
            "UndefinedError" in message.fallback_reason, message.fallback_reason
        assert "__subclasses__" not in message.text and "P0-2026-11-001" in message.text


def test_a_template_that_does_not_compile_refuses_start_up_naming_file_and_line(tmp_path):
    path = write(tmp_path, "en/incident.opened.email.j2",
                 "{% block subject %}x{% endblock %}\n{% if metric %}\nno end\n")
    with pytest.raises(TemplateRefused, match=f"{path}:3: Unexpected end of template"):
        Renderer(tmp_path)
    with pytest.raises(ValidationError, match=f"{path}:3"):
        NotifierSettings(templates_dir=str(tmp_path))


def test_hidden_copies_are_not_templates(tmp_path):
    # A Kubernetes ConfigMap volume keeps its files under ..data and links to them.
    write(tmp_path, "..data/zh/incident.opened.chat.j2", "{{ incident.ref }} 门店")
    (tmp_path / "zh").symlink_to(tmp_path / "..data" / "zh")
    assert Renderer(tmp_path).overridden == ["zh/incident.opened.chat.j2"]


def test_a_template_out_of_place_refuses_start_up(tmp_path):
    path = write(tmp_path, "zh/incident.opened.fax.j2", "{{ incident.ref }}")
    with pytest.raises(TemplateRefused, match=str(path)):
        Renderer(tmp_path)
    with pytest.raises(TemplateRefused, match="not a directory"):
        Renderer(tmp_path / "missing")


def test_the_settings_keep_one_renderer(tmp_path):
    write(tmp_path, "zh/default.chat.j2", "{{ incident.ref }}")
    settings = NotifierSettings(templates_dir=str(tmp_path))
    assert settings.message_renderer() is settings.message_renderer()
    assert settings.message_renderer().overridden == ["zh/default.chat.j2"]


def test_when_no_template_renders_the_plain_form_is_sent():
    # A fact of a shape no template expected (a value that is not a number).
    n = notification("incident.opened")
    n = replace(n, facts={**n.facts, "value": "twelve"})
    message = render(n, "sms", now=NOW)
    assert message.template == "plain" and "ValueError" in message.fallback_reason
    assert message.text.startswith("[P0] P0-2026-11-001 Store NPS collapse on store-042")


def test_a_pages_own_acknowledge_link_is_used_unless_one_is_given():
    n = replace(notification("incident.opened"), ack_url=f"{PUBLIC}/v1/ack/signed")
    assert f"[一键确认]({PUBLIC}/v1/ack/signed)" in render(n, "chat", now=NOW).markdown
    assert "[一键确认](https://other/ack)" in render(n, "chat", ack_url="https://other/ack",
                                                   now=NOW).markdown


def test_the_service_installs_its_renderer_for_every_render_call(tmp_path):
    write(tmp_path, "zh/default.chat.j2", "{{ incident.ref }} 运维自定义")
    settings = NotifierSettings(templates_dir=str(tmp_path), secrets_key=SECRETS_KEY)
    try:
        create_app(settings)
        message = render(notification("something.new"), "chat", now=NOW)
        assert message.text == "P0-2026-11-001 运维自定义"
        assert message.template == "override:zh/default.chat.j2"
    finally:
        install(Renderer())  # the shipped templates again for the other tests


def test_a_digest_is_sent_as_it_was_written_for_its_reader():
    # The digest worker renders the whole list once, in the reader's language (digest.py);
    # every medium takes its part of that rendering, not a per-incident template.
    written = {"subject": "Daily digest 2026-12-01 · 3 fired / 1 open / 2 closed",
               "text": "3 fired", "markdown": "**3 fired**", "html": "<p>3 fired</p>",
               "template": "en/digest"}
    about = {"digest": {"every": "daily"}, "message": written}
    for medium in ("chat", "email", "sms"):
        sent = render(notification("digest.daily", "en", about=about), medium, "en")
        assert (sent.subject, sent.text, sent.markdown, sent.html, sent.template) == (
            written["subject"], "3 fired", "**3 fired**", "<p>3 fired</p>", "en/digest")
