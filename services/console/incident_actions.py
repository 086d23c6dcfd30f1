"""The incident page's forms: each posts to one service's API in the signed-in person's name.
A refusal comes back next to the field it names (else next to the form's main field), in the
API's own words; a service that does not answer is named next to the form."""
from __future__ import annotations

import re
from html import escape
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.apis import Refused, ServiceDown
from services.console.pages import incident_page_with, signed_in, to_sign_in
from services.console.i18n import translator
from services.console.session import csrf_ok, language

router = APIRouter()
Body = Callable[[dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Form:
    service: str
    path: str  # under the incident ({ref}), or the CAPA case ({capa}, {action})
    fields: tuple[str, ...]
    main: str  # where a refusal that names no field is shown
    body: Body


def _plain(*names: str) -> Body:
    return lambda f: {n: f.get(n, "").strip() for n in names}


def _progress(f: dict[str, str]) -> dict[str, Any]:
    every = f.get("next_update_in", "").strip()
    return {"text": f.get("text", "").strip(), "author": f.get("author", "").strip(),
            **({"next_update_in": every} if every else {})}


def _root_cause(f: dict[str, str]) -> dict[str, Any]:
    """5 whys: the answers given, in order. Fishbone (人机料法环测): one factor per line under
    each category; the root cause's own category is required there."""
    method = f.get("method", "5whys")
    body: dict[str, Any] = {"by": f.get("by", "").strip(), "method": method,
                            "statement": f.get("statement", "").strip()}
    if f.get("category"):
        body["category"] = f["category"]
    if method == "5whys":
        body["whys"] = [w.strip() for k, w in sorted(f.items()) if k.startswith("why")
                        and w.strip()]
    factors = [{"category": k.removeprefix("factors_"), "factor": line.strip()}
               for k, text in f.items() if k.startswith("factors_")
               for line in text.splitlines() if line.strip()]
    if factors:
        body["contributing_factors"] = factors
    return body


def _verify(f: dict[str, str]) -> dict[str, Any]:
    return {"verifier": f.get("verifier", "").strip(), "effective": f.get("effective") != "no",
            "note": f.get("note", "").strip()}


FORMS: dict[str, Form] = {
    "check": Form("incidents", "/v1/incidents/{ref}/checklist/{item}/check", ("by", "note"),
                  "by", _plain("by", "note")),
    "progress": Form("incidents", "/v1/incidents/{ref}/progress",
                     ("text", "author", "next_update_in"), "text", _progress),
    "severity": Form("incidents", "/v1/incidents/{ref}/severity", ("severity", "reason", "by"),
                     "severity", _plain("severity", "reason", "by")),
    "assign": Form("incidents", "/v1/incidents/{ref}/roles", ("role", "person", "by"),
                   "person", _plain("role", "person", "by")),
    "resolve": Form("incidents", "/v1/incidents/{ref}/resolve", ("summary", "verdict", "by"),
                    "summary", _plain("summary", "verdict", "by")),
    "root-cause": Form("capa", "/v1/capa/{capa}/root-cause",
                       ("statement", "method", "category", "whys", "contributing_factors", "by"),
                       "statement", _root_cause),
    "action": Form("capa", "/v1/capa/{capa}/actions",
                   ("kind", "title", "owner", "due_date", "acceptance_criteria", "by"),
                   "title", _plain("kind", "title", "owner", "due_date",
                                   "acceptance_criteria", "by")),
    "complete": Form("capa", "/v1/capa/{capa}/actions/{item}/complete", ("evidence", "by"),
                     "by", _plain("by", "evidence")),
    "verify": Form("capa", "/v1/capa/{capa}/actions/{item}/verify",
                   ("verifier", "effective", "note"), "verifier", _verify),
}


def field_of(form: Form, message: str) -> str:
    """The field a refusal names ("verifier: …", "whys.0: …"), else the form's main one."""
    named = re.match(r"\s*([a-z_]+)", message)
    return named.group(1) if named and named.group(1) in form.fields else form.main


@router.post("/incidents/{ref}/do/{name}")
@router.post("/incidents/{ref}/do/{name}/{item}")
async def submit(request: Request, ref: str, name: str, item: str = "") -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    form = FORMS.get(name)
    sent = {k: str(v) for k, v in (await request.form()).items()}
    target = f"{name}:{item}" if item else name
    if form is None:
        return Response(status_code=404)
    if not csrf_ok(session, sent.get("csrf")):
        return await incident_page_with(request, session, ref, 403, errors={
            target: {"field": form.main, "key": "csrf_refused"}}, sent={target: sent})
    path = form.path.format(ref=quote(ref), capa=quote(sent.get("capa", ""), safe=""),
                            item=quote(item, safe=""))
    try:
        await request.app.state.apis.call(form.service, "POST", path, session["key"],
                                          json=form.body(sent))
    except ServiceDown as down:
        return await incident_page_with(request, session, ref, 503, errors={
            target: {"field": form.main, "down": down.service}}, sent={target: sent})
    except Refused as refused:
        return await incident_page_with(request, session, ref, refused.status, errors={
            target: {"field": field_of(form, refused.message), "message": refused.message}},
            sent={target: sent})
    return RedirectResponse(f"/incidents/{quote(ref)}?done={quote(name)}#{quote(name)}", 303)


@router.get("/incidents/{ref}/postmortem", response_class=HTMLResponse)
async def postmortem(request: Request, ref: str) -> Response:
    """The CAPA case's postmortem as the capa service writes it (HTML, the page's language)."""
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    t = translator(language(request))
    try:
        return HTMLResponse(await request.app.state.apis.call(
            "capa", "GET", f"/v1/capa/{quote(ref, safe='')}/postmortem", session["key"],
            params={"format": "html", "lang": language(request)}, text=True))
    except ServiceDown as down:
        return HTMLResponse(f"<p>{escape(t('service_down'))}{escape(down.service)}</p>", 503)
    except Refused as refused:
        return HTMLResponse(f"<p>{escape(refused.message)}</p>", refused.status)
