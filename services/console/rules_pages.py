"""The rules pages: every rule with its health, one rule's versions, and a backtest run as a
detector job and charted (series, the alerts it would raise, the labelled windows)."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.apis import Refused, ServiceDown
from services.console.i18n import translator
from services.console.pages import render, signed_in, to_sign_in
from services.console.rules_chart import backtest_option
from services.console.session import csrf_ok, language

router = APIRouter()
HEALTH_DAYS = (7, 30, 90)
CHART_POINTS = 1500   # per entity: about a chart's width in pixels
FIELDS = ("version", "start", "end", "windows")   # a refusal naming one is shown by it
WINDOWS_EXAMPLE = '[{"start": "2026-03-04T00:00:00Z", "end": "2026-03-04T06:00:00Z"}]'


async def _detector(request: Request, session: dict[str, Any], method: str, path: str,
                    **kwargs: Any) -> Any:
    return await request.app.state.apis.call("detector", method, path, session["key"],
                                             **kwargs)


@router.get("/rules", response_class=HTMLResponse)
async def rules_page(request: Request, days: int = 30) -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    days = days if days in HEALTH_DAYS else 30
    try:
        rules = await _detector(request, session, "GET", "/v1/rules")
        health = await _detector(request, session, "GET", "/v1/rules/health",
                                 params={"days": days})
    except ServiceDown as down:
        return render(request, "rules.html", session, 503, down=down.service, days=days)
    except Refused as refused:
        return render(request, "rules.html", session, refused.status, refused=refused.message,
                      days=days)
    by_rule = {h["rule_id"]: h for h in health}
    rows = [{**rule, "health": by_rule.get(str(rule["id"]))} for rule in rules]
    return render(request, "rules.html", session, rules=rows, days=days,
                  choices=HEALTH_DAYS)


async def _rule_page(request: Request, session: dict[str, Any], rule_id: str,
                     status: int = 200, **context: Any) -> Response:
    path = f"/v1/rules/{quote(rule_id)}"
    try:
        rule = await _detector(request, session, "GET", path)
        versions = await _detector(request, session, "GET", f"{path}/history")
    except ServiceDown as down:
        return render(request, "rule.html", session, 503, down=down.service)
    except Refused as refused:
        return render(request, "rule.html", session, refused.status, refused=refused.message)
    for version in versions:
        version["text"] = json.dumps(version["definition"], ensure_ascii=False, indent=2)
    form = {"version": str(rule["version"]), "start": "", "end": "", "windows": "",
            **context.pop("form", {})}
    return render(request, "rule.html", session, status, rule=rule,
                  versions=sorted(versions, key=lambda v: -v["version"]), form=form,
                  example=WINDOWS_EXAMPLE, **context)


@router.get("/rules/{rule_id}", response_class=HTMLResponse)
async def rule_page(request: Request, rule_id: str, job: str = "", version: str = "",
                    start: str = "", end: str = "", windows: str = "") -> Response:
    """With `job`: the backtest it runs, and the form as it was sent (to run it again)."""
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    form = {"start": start, "end": end, "windows": windows,
            **({"version": version} if version.isdigit() else {})}
    return await _rule_page(request, session, rule_id, job=job, form=form)


def _utc(value: str) -> str | None:
    """A datetime-local value (no zone) read as UTC; anything else goes to the API as typed,
    so its refusal names the field."""
    value = value.strip()
    if not value:
        return None
    return f"{value}:00Z" if len(value) == 16 and value[10] == "T" else value


def field_errors(message: str) -> tuple[dict[str, str], str]:
    """The API's 422 parts ("windows.0.end: Field required; …") by the form field they
    name; the rest is said next to the button."""
    fields: dict[str, list[str]] = {}
    rest = []
    for part in message.split("; "):
        head = part.split(":", 1)[0].split(".", 1)[0].strip()
        (fields.setdefault(head, []) if head in FIELDS else rest).append(part)
    return {k: "; ".join(v) for k, v in fields.items()}, "; ".join(rest)


@router.post("/rules/{rule_id}/backtest", response_class=HTMLResponse)
async def run_backtest(request: Request, rule_id: str, version: str = Form(""),
                       start: str = Form(""), end: str = Form(""), windows: str = Form(""),
                       csrf: str = Form("")) -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    form = {"version": version, "start": start, "end": end, "windows": windows}
    if not csrf_ok(session, csrf):
        return await _rule_page(request, session, rule_id, 403, form=form,
                                error_key="csrf_refused")
    body: dict[str, Any] = {"points": CHART_POINTS, "start": _utc(start), "end": _utc(end),
                            "version": int(version) if version.isdigit() else None}
    if windows.strip():
        try:
            body["windows"] = json.loads(windows)
        except ValueError:
            t = translator(language(request))
            return await _rule_page(request, session, rule_id, 422, form=form,
                                    errors={"windows": t("windows_not_json")})
    try:
        job = await _detector(request, session, "POST",
                              f"/v1/rules/{quote(rule_id)}/backtest/jobs", json=body)
    except ServiceDown as down:
        return await _rule_page(request, session, rule_id, 503, form=form,
                                job_down=down.service)
    except Refused as refused:   # the API's own words, by the field they name
        errors, rest = field_errors(refused.message)
        return await _rule_page(request, session, rule_id, refused.status, form=form,
                                errors=errors, error=rest)
    return RedirectResponse(f"/rules/{quote(rule_id)}?" + urlencode({"job": job["id"], **form}),
                            303)


@router.get("/rules/backtest/{job_id}", response_class=HTMLResponse)
async def backtest_result(request: Request, job_id: str) -> Response:
    """The job's progress, then its chart and scores: htmx asks again until it has ended."""
    session = signed_in(request)
    if session is None:
        return Response(status_code=401)
    try:
        job = await _detector(request, session, "GET", f"/v1/backtest/jobs/{quote(job_id)}")
    except ServiceDown as down:
        return render(request, "rules_backtest.html", session, job_id=job_id,
                      down=down.service)
    except Refused as refused:
        return render(request, "rules_backtest.html", session, job_id=job_id,
                      refused=refused.message)
    result = job.get("result") or {}
    option = (backtest_option(result, translator(language(request)))
              if job["state"] == "done" else None)
    return render(request, "rules_backtest.html", session, job_id=job_id, job=job,
                  result=result, option=option, points=CHART_POINTS)
