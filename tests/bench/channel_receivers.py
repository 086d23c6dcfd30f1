"""The services a person's message is handed to, on loopback, each taking `delay` seconds per
message as a real one would: a chat robot host (HTTPS, certificate from a test CA, answering
as DingTalk and WeCom do), an SMS gateway (HTTP, answering as SMSEagle does) and an SMTP
server with STARTTLS. Each records when a message arrived and when it was accepted (the
answer sent, after the delay); what it was about is read later, off the timed path."""
from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

from aiohttp import web
from aiosmtpd.controller import Controller

from closedloop.embedded.ports import free_port
from tests.receivers import make_ca

ROBOT_HOSTS = ["oapi.dingtalk.com", "qyapi.weixin.qq.com"]
REF = re.compile(r"P\d-\d{4}-\d{2}-\d{5}")
ROBOT_ANSWER = '{"errcode":0,"errmsg":"ok"}'
GATEWAY_ANSWER = '{"result": {"message_id": "1", "status": "ok"}}'


@dataclass
class Arrival:
    medium: str
    arrived: float
    accepted: float
    raw: bytes

    def ref(self) -> str | None:
        body = self.raw
        if self.medium == "email":  # the text part, decoded (it is base64 or QP on the wire)
            mail = message_from_bytes(body, policy=policy.default)
            body = mail.get_body(("plain",)).get_content().encode()  # type: ignore[union-attr]
        found = REF.search(body.decode("utf-8", "replace"))
        return found.group(0) if found else None


class Receivers:
    def __init__(self, folder: Path, delay: float) -> None:
        self.delay = delay
        self.ca = make_ca(folder, [*ROBOT_HOSTS, "localhost"])
        self.arrivals: list[Arrival] = []
        self.robot_port, self.sms_port, self.smtp_port = free_port(), free_port(), free_port()
        self._loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        self._smtp = Controller(_Inbox(self), hostname="127.0.0.1", port=self.smtp_port,
                                tls_context=self.ca.server_context(), require_starttls=True)
        self._smtp.start()

    async def _start(self) -> None:
        for port, medium, answer, tls in (
                (self.robot_port, "chat", ROBOT_ANSWER, self.ca.server_context()),
                (self.sms_port, "sms", GATEWAY_ANSWER, None)):
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._http(medium, answer))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls).start()
            self._runners.append(runner)

    def _http(self, medium: str, answer: str):
        async def handle(request: web.Request) -> web.Response:
            arrived = time.time()
            raw = await request.read()
            await asyncio.sleep(self.delay)
            self.arrivals.append(Arrival(medium, arrived, time.time(), raw))
            return web.Response(text=answer, content_type="application/json")
        return handle

    def close(self) -> None:
        self._smtp.stop()
        for runner in self._runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class _Inbox:
    def __init__(self, receivers: Receivers) -> None:
        self.receivers = receivers

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        arrived = time.time()
        await asyncio.sleep(self.receivers.delay)
        self.receivers.arrivals.append(Arrival("email", arrived, time.time(),
                                               envelope.original_content))
        return "250 OK"
