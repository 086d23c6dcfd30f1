"""A real incident, declared, acknowledged and resolved on the incidents service, becomes a
CAPA case that is analysed and closed; its postmortem then comes over HTTP from the capa
service (by ref and by case id; Markdown, HTML, PDF; zh and en) and through the CLI. Both
services share one manual clock, so the times in the document are the story's."""
from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from pypdf import PdfReader

from closedloop.cli import main as cli
from closedloop.postmortem import print_postmortem
from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from shared.clock import ManualClock
from tests.harness import API_KEYS, PERSON_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def services(database_url, nats_url, clock):
    common = dict(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS)
    started = {"incidents": RunningService(incidents_app(IncidentsSettings(**common), clock=clock)),
               "capa": RunningService(capa_app(CapaSettings(**common), clock=clock))}
    for service in started.values():
        service.start()
    yield started
    for service in started.values():
        service.stop()


def test_a_closed_case_s_postmortem_tells_the_incident_and_its_analysis(services, clock,
                                                                         tmp_path, capsys):
    incidents = services["incidents"].client(RESPONDER_KEY)
    capa = services["capa"].client(RESPONDER_KEY)
    title = f"收银台无响应 {uuid.uuid4().hex[:6]}"

    # The incident: declared as P1, acknowledged after 7 minutes, restored 43 minutes later.
    declared = incidents.post("/v1/incidents", json={
        "severity": "P1", "title": title, "entity": "store-17", "reporter": "carol"})
    assert declared.status_code == 201, declared.text
    ref = declared.json()["ref"]
    clock.advance(timedelta(minutes=7))
    assert incidents.post(f"/v1/incidents/{ref}/acknowledge",
                          json={"by": "alice"}).status_code == 200
    clock.advance(timedelta(minutes=20))
    assert incidents.post(f"/v1/incidents/{ref}/progress", json={
        "text": "till firmware rolled back on 3 of 8 tills", "author": "alice"}).status_code == 200
    clock.advance(timedelta(minutes=23))
    resolved = incidents.post(f"/v1/incidents/{ref}/resolve",
                              json={"by": "alice", "summary": "firmware 4.2 rolled back"})
    assert resolved.status_code == 200, resolved.text

    # The case, by 5 whys, one corrective action verified and checked by someone else: closed.
    case = wait_until(lambda: _case(capa, ref), message="the CAPA case")
    capa_id = case["id"]
    clock.advance(timedelta(days=1))
    assert capa.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "alice", "method": "5whys", "statement": "firmware 4.2 shipped without a till test",
        "whys": ["tills froze", "firmware 4.2 crashed on old readers"]}).status_code == 200
    assert capa.post(f"/v1/capa/{capa_id}/actions", json={
        "by": "lead", "kind": "corrective", "title": "test firmware on every till model",
        "owner": "alice", "due_date": "2026-11-20",
        "acceptance_criteria": "release checklist has the till matrix"}).status_code == 201
    assert capa.post(f"/v1/capa/{capa_id}/actions/A-1/complete", json={
        "by": "alice", "evidence": "checklist v7"}).status_code == 200
    bob = services["capa"].client(PERSON_KEYS["bob"])
    verified = bob.post(f"/v1/capa/{capa_id}/actions/A-1/verify",
                        json={"verifier": "bob", "effective": True})
    # A declared incident has no alert to watch: someone other than the owner checks the fix.
    assert verified.json()["status"] == "effectiveness", verified.text
    checked = bob.post(f"/v1/capa/{capa_id}/effectiveness-check", json={
        "verifier": "bob", "text": "no frozen tills for a week", "evidence": "store report"})
    assert checked.json()["status"] == "closed", checked.text

    # The postmortem by ref: the facts capa heard on the bus, measured on the story's clock,
    # up to the incident closing because its case did.
    viewer = services["capa"].client(VIEWER_KEY)
    md = wait_until(lambda: (r := viewer.get(f"/v1/capa/{ref}/postmortem")).status_code == 200
                    and "| Incident closed |" in r.text and r, timeout=30,
                    message="the incident closed")
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    text = md.text
    assert f"# Postmortem {ref}: {title}" in text
    for line in ("| Severity | P1 |", "| Entity / unit | store-17 |", "| Duration | 50 min |",
                 "| Time to acknowledge | 7 min |", "| Opened | 2026-11-02 09:00 UTC |",
                 "| Resolved | 2026-11-02 09:50 UTC |", "(by 2026-11-02 09:15 UTC) | met |",
                 "| 2026-11-02 09:27 UTC | Progress update | alice | till firmware rolled back",
                 "| A-1 test firmware on every till model | corrective | alice | 2026-11-20 | "
                 "verified | bob | checklist v7 |", "1. Why? tills froze", "- result: effective", "- checked_by: bob"):
        assert line in text, line

    # By case id, in Chinese, as HTML and as PDF.
    zh = viewer.get(f"/v1/capa/{capa_id}/postmortem", params={"format": "html", "lang": "zh"})
    assert zh.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h2>时间线</h2>" in zh.text and "<td>50分钟</td>" in zh.text
    pdf = viewer.get(f"/v1/capa/{ref}/postmortem", params={"format": "pdf", "lang": "zh"},
                     timeout=120)  # laying out CJK pages is seconds of CPU on a busy machine
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert f'filename="postmortem-{ref}.pdf"' in pdf.headers["content-disposition"]
    pages = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "复盘报告" in pages and title in pages

    # Refusals name what to fix.
    unknown = viewer.get("/v1/capa/P0-1999-01-001/postmortem")
    assert unknown.status_code == 404 and "P0-1999-01-001" in unknown.json()["detail"]
    wrong = viewer.get(f"/v1/capa/{ref}/postmortem", params={"format": "docx"})
    assert wrong.status_code == 422
    assert services["capa"].client("").get(f"/v1/capa/{ref}/postmortem").status_code == 401

    # The CLI, to a file and to stdout; and the demo's helper.
    url, key = services["capa"].url, VIEWER_KEY
    out = tmp_path / "pm.pdf"
    assert cli(["postmortem", ref, "--format", "pdf", "--lang", "en", "--out", str(out),
                "--url", url, "--api-key", key]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    capsys.readouterr()
    assert cli(["postmortem", ref, "--lang", "zh", "--url", url, "--api-key", key]) == 0
    assert f"# 复盘报告 {ref}：{title}" in capsys.readouterr().out
    said: list[str] = []
    told = print_postmortem(ref, say=said.append, url=url, api_key=key)
    assert said[0] == f"# Postmortem {ref}: {title}" and told == text


def _case(capa, ref: str):
    return next((c for c in capa.get("/v1/capa", params={"limit": 500}).json()["items"]
                 if c["ref"] == ref), None)
