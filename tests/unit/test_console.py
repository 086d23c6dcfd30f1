"""The console's parts without services: the sealed session and its CSRF token, the API's
refusal messages, board cards from either API, and the translation table."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import Request
from fastapi.responses import Response
from pydantic import SecretStr

from services.console.apis import Apis, message_of
from services.console.board import STATUSES, card, matches
from services.console.i18n import TEXT, translator
from services.console.session import COOKIE, Sessions, csrf_ok
from services.console.settings import ConsoleSettings

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "console" / "templates"


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "headers": headers})


def sealed(sessions: Sessions, data: dict) -> str:
    response = Response()
    sessions.write(response, data)
    header = response.headers["set-cookie"]
    assert "httponly" in header.lower() and "samesite=lax" in header.lower()
    return header.split(";")[0].split("=", 1)[1]


def test_a_session_reads_back_and_hides_the_key():
    sessions = Sessions(ConsoleSettings(session_secret=SecretStr("s" * 32)))
    cookie = sealed(sessions, {"key": "secret-api-key-123", "name": "alice", "csrf": "t"})
    assert "secret-api-key-123" not in cookie
    assert sessions.read(request_with(cookie))["key"] == "secret-api-key-123"


def test_an_altered_or_foreign_session_reads_as_none():
    sessions = Sessions(ConsoleSettings(session_secret=SecretStr("s" * 32)))
    other = Sessions(ConsoleSettings(session_secret=SecretStr("o" * 32)))
    cookie = sealed(sessions, {"key": "k"})
    assert sessions.read(request_with(cookie[:-4] + "AAAA")) == {}
    assert other.read(request_with(cookie)) == {}
    assert sessions.read(request_with(None)) == {}


def test_csrf_needs_the_sessions_own_token():
    sessions = Sessions(ConsoleSettings())
    session = sessions.with_csrf({})
    assert csrf_ok(session, session["csrf"])
    assert not csrf_ok(session, "forged") and not csrf_ok(session, None) and not csrf_ok({}, "")
    assert sessions.with_csrf(session)["csrf"] == session["csrf"]  # kept across pages


def test_the_apis_words_are_kept_and_validation_names_the_field():
    refused = httpx.Response(403, json={"detail": "this action needs the responder role"})
    assert message_of(refused) == "this action needs the responder role"
    invalid = httpx.Response(422, json={"detail": [
        {"loc": ["body", "by"], "msg": "Field required", "type": "missing"}]})
    assert message_of(invalid) == "by: Field required"
    assert message_of(httpx.Response(500, text="<html>")) == "Internal Server Error"


def test_cards_from_the_board_api_and_from_the_incidents_list():
    board_card = {"ref": "P0-1", "severity": "P0", "entity": "store-017", "title": "offline",
                  "responsible": None, "response": {"state": "missed"}}
    listed = {"ref": "P1-2", "severity": "P1", "entity": "store-002", "title": "points",
              "responsible": "bob", "at_risk": True, "respond_breached": False}
    assert card(board_card)["overdue"] and not card(board_card)["at_risk"]
    assert card(listed)["at_risk"] and not card(listed)["overdue"]
    assert card({**listed, "resolve_breached": True})["overdue"]
    assert matches(listed, "STORE-002 poi") and not matches(listed, "store-017")


def test_every_text_a_template_asks_for_is_translated_in_both_languages():
    asked = set()
    for template in TEMPLATES.glob("*.html"):
        asked |= set(re.findall(r"t\('([a-z_]+)'\)", template.read_text()))
    assert asked and asked <= set(TEXT)
    assert all(zh and en for zh, en in TEXT.values())
    assert {f"status_{s}" for s in STATUSES} <= set(TEXT)  # column headings: t('status_' ~ s)
    assert translator("en")("board") == "Board" and translator("zh")("board") == "看板"


async def test_the_board_feed_becomes_changed_events_and_a_refusal_becomes_down():
    feed = ("event: ready\ndata: {}\n\n: ping\n\nevent: card\ndata: {\"ref\": \"P0-1\"}\n\n"
            "event: reload\ndata: {}\n\n")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["X-API-Key"] == "good":
            return httpx.Response(200, text=feed)
        return httpx.Response(401, json={"detail": "unknown API key"})

    apis = Apis(ConsoleSettings(incidents_url="http://incidents.test"))
    apis.client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    assert [c async for c in apis.changes("good")] == ["changed", "changed"]
    assert [c async for c in apis.changes("bad")] == ["down"]
    await apis.close()
