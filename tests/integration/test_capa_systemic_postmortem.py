"""The postmortem of a systemic problem, over real NATS, PostgreSQL and HTTP on an injected
clock: five returns of a rule raise it; its fix is sent back once by a return inside the
window, then holds and is checked; the document tells the linked cases and entities, the
returns, the timeline, root cause, actions, effectiveness and lessons, in Markdown, HTML and
PDF, in English and Chinese, at its route and through `closedloop postmortem <id>`."""
from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from pypdf import PdfReader

from closedloop.cli import main as cli
from services.capa.domain.recurrence import SystemicProblem
from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from tests.harness import (
    API_KEYS, PERSON_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until,
)
from tests.integration.test_capa_effectiveness import T0
from tests.integration.test_capa_recurrence import closed_case, opened

pytestmark = pytest.mark.integration


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_windows="P0=7d,P1=7d", effectiveness_poll_seconds=0.2,
        capa_recurrence_period="90d", capa_systemic_recurrences=5,
        capa_systemic_window="10d"), clock=clock)).start()
    yield service
    service.stop()


def ok(response):
    assert response.status_code < 300, response.text
    return response.json()


def test_a_systemic_problem_s_postmortem_tells_its_cases_returns_and_analysis(
        capa, nats_url, clock, tmp_path, capsys):
    rule = f"parts-late-{uuid.uuid4().hex[:6]}"
    first = closed_case(capa, nats_url, clock, rule, "store-001")
    for n in range(2, 7):
        clock.advance(timedelta(days=5))
        last = opened(nats_url, clock, rule, f"store-{n:03d}", f"P0-2026-12-{n:03d}")
    api, bob = capa.client(RESPONDER_KEY), capa.client(PERSON_KEYS["bob"])
    problem_id = SystemicProblem.create_id(rule, last)
    base = f"/v1/systemic-problems/{problem_id}"
    wait_until(lambda: api.get(base).status_code == 200, message="the systemic problem")

    # Before any analysis the document already names the returns and says what is missing.
    early = api.get(f"{base}/postmortem")
    assert early.status_code == 200 and early.headers["content-type"].startswith("text/markdown")
    assert "Not recorded yet." in early.text and "Not yet assessed." in early.text

    ok(api.post(f"{base}/root-cause", json={
        "by": "Wang HQ", "method": "fishbone", "statement": "one supplier | for the region",
        "category": "material", "contributing_factors": [
            {"category": "method", "factor": "no second source in the buying rules"}]}))
    for kind, title, owner in (("corrective", "second supplier", "alice"),
                               ("preventive", "quarterly supplier review", "dave")):
        ok(api.post(f"{base}/actions", json={
            "by": "Wang HQ", "kind": kind, "title": title, "owner": owner,
            "due_date": clock.now().date().isoformat(), "acceptance_criteria": "two suppliers"}))
        ok(api.post(f"{base}/actions/A-{1 if kind == 'corrective' else 2}/complete",
                    json={"by": owner, "evidence": f"{title} done"}))
    ok(bob.post(f"{base}/actions/A-1/verify", json={
        "verifier": "bob", "effective": False, "note": "the second supplier is not yet listed"}))
    ok(api.post(f"{base}/actions/A-1/complete", json={"by": "alice", "evidence": "listed"}))
    for action in ("A-1", "A-2"):
        ok(bob.post(f"{base}/actions/{action}/verify", json={"verifier": "bob", "effective": True}))
    # Four days into the window (its day 5): the rule returns on store-009; back to analysis, verified again.
    clock.advance(timedelta(days=4))
    opened(nats_url, clock, rule, "store-009", "P0-2026-12-009")
    wait_until(lambda: api.get(base).json()["status"] == "open", message="the failed window")
    ok(api.post(f"{base}/actions", json={
        "by": "Wang HQ", "kind": "corrective", "title": "audit every region's sourcing",
        "owner": "alice", "due_date": clock.now().date().isoformat(),
        "acceptance_criteria": "audit report"}))
    ok(api.post(f"{base}/actions/A-3/complete", json={"by": "alice", "evidence": "audited"}))
    assert ok(bob.post(f"{base}/actions/A-3/verify", json={
        "verifier": "bob", "effective": True}))["status"] == "effectiveness"
    clock.advance(timedelta(days=10))
    ok(bob.post(f"{base}/effectiveness-check", json={
        "verifier": "bob", "text": "no store late on parts for 10 days",
        "evidence": "delivery log"}))

    viewer = capa.client(VIEWER_KEY)
    text = viewer.get(f"{base}/postmortem").text
    assert text.startswith(f"# Postmortem of a systemic problem: '{rule}'\n")
    assert f"Systemic problem {problem_id} · closed" in text
    assert f"'{rule}' recurred 5 times in" in text  # the summary it was raised with
    entities = ", ".join(f"store-{n:03d}" for n in range(2, 7))
    assert f"| Entities | {entities}, store-009 |" in text  # the return joined it
    assert "| Recurrences | 6 (raised at 5 within 90.0 days) |" in text
    linked = text.split("## Linked cases")[1].split("## Recurrences")[0]
    assert "| P0-2026-12-001 | store-001 |" in linked and "disk sized for last year" in linked
    assert "| closed |" in linked
    returns = text.split("## Recurrences")[1].split("## Timeline")[0]
    assert [line.split(" | ")[1] for line in returns.splitlines() if "P0-2026-12-0" in line] == [
        "P0-2026-12-002", "P0-2026-12-003", "P0-2026-12-004", "P0-2026-12-005",
        "P0-2026-12-006", "P0-2026-12-009"]
    timeline = text.split("## Timeline")[1].split("## Root cause")[0]
    order = ["CAPA case opened", "CAPA case closed", "Returned on an entity",
             "Systemic problem raised", "Root cause recorded", "Action not effective",
             "Effectiveness window started", "Returned inside the window",
             "Effectiveness checked, systemic problem closed"]
    positions = [timeline.index(kind) for kind in order]
    assert positions == sorted(positions), timeline
    assert "store-009 as P0-2026-12-009 5 days into the 10-day window" in timeline, timeline
    assert "no store late on parts for 10 days (delivery log)" in timeline
    assert r"**one supplier \| for the region**" in text  # a person's pipe cannot break a table
    assert "category 料 (material)" in text and "法 (method): no second source" in text
    assert "| A-2 quarterly supplier review | preventive | dave |" in text
    assert "| A-3 audit every region's sourcing | corrective | alice |" in text
    effectiveness = text.split("## Effectiveness")[1].split("## Lessons")[0]
    assert "- result: effective" in effectiveness and "- checked_by: bob" in effectiveness
    assert "- window_days: 10.0" in effectiveness
    lessons = text.split("## Lessons")[1]
    assert "- A first fix did not hold: the second supplier is not yet listed" in lessons
    assert "- What changes so it does not recur: quarterly supplier review" in lessons
    assert f"- Where it came back: {entities}, store-009" in lessons
    assert "- It returned while the fix was watched: 'parts-late" in lessons

    zh = viewer.get(f"{base}/postmortem", params={"lang": "zh"}).text
    assert zh.startswith(f"# 系统性问题复盘报告：「{rule}」\n")
    for heading in ("## 关联案例", "## 再发记录", "## 时间线", "## 根本原因", "## 措施",
                    "## 有效性评估", "## 经验教训"):
        assert heading in zh
    assert "系统性问题上报总部" in zh and "观察期内再发，退回分析" in zh
    html = viewer.get(f"/v1/capa/systemic/{problem_id}/postmortem", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "<h2>Linked cases</h2>" in html.text and "<td>store-009</td>" in html.text
    pdf = viewer.get(f"{base}/postmortem", params={"format": "pdf", "lang": "zh"})
    assert pdf.headers["content-disposition"].startswith("attachment")
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    assert "系统性问题复盘报告" in "".join(page.extract_text() for page in pages)

    # Refusals name what to fix.
    unknown = viewer.get(f"/v1/systemic-problems/{uuid.uuid4()}/postmortem")
    assert unknown.status_code == 404 and "systemic problem" in unknown.json()["detail"]
    assert viewer.get(f"{base}/postmortem", params={"format": "docx"}).status_code == 422
    assert capa.client("").get(f"{base}/postmortem").status_code == 401
    # A systemic problem has no ref: the CLI takes its id.
    url = capa.url
    capsys.readouterr()
    assert cli(["postmortem", str(problem_id), "--url", url, "--api-key", VIEWER_KEY]) == 0
    assert capsys.readouterr().out == text
    out = tmp_path / "systemic.pdf"
    assert cli(["postmortem", str(problem_id), "--format", "pdf", "--out", str(out),
                "--url", url, "--api-key", VIEWER_KEY]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    assert first in [c["id"] for c in ok(api.get(base))["cases"]]
