"""What every request passes through before and after its route: the input guard and the
request metrics. Plain ASGI, not Starlette's BaseHTTPMiddleware: that one runs each request
through an extra task and memory stream, which was most of the cost of a small request
(a re-sent Alertmanager batch spent ~70% of its time in the HTTP layer)."""
from __future__ import annotations

import time
from typing import Any

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.limits import MAX_BODY_BYTES, REQUEST_ID

WITH_BODY = ("POST", "PUT", "PATCH")


def error_response(status: int, field: str, message: str, fix: str) -> JSONResponse:
    """One error in the shape of the validation errors: detail plus errors[field, message, fix]."""
    return JSONResponse({"detail": f"{field}: {message}; {fix}",
                         "errors": [{"field": field, "message": message, "fix": fix}]}, status)


class RequestGuard:
    """Refuse what must never be stored: bodies past the size limit (declared or, when
    chunked, counted) and NUL characters, which PostgreSQL text cannot hold and which would
    otherwise leave an event no read model could show."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None and scope["method"] in WITH_BODY:
            body, refusal = await self._read_body(receive)
            receive = _replaying(body, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope) -> JSONResponse | None:
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _too_large(int(length))
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            return _nul("url")
        if len(headers.get("x-request-id", "")) > REQUEST_ID:  # stored on every event
            return error_response(422, "headers.X-Request-Id", f"at most {REQUEST_ID} characters",
                                  "send a shorter request id, or none (the trace id is used then)")
        return None

    @staticmethod
    async def _read_body(receive: Receive) -> tuple[bytes, JSONResponse | None]:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return b"", _too_large(size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\\u0000" in body.lower():
            return body, _nul("body")
        return body, None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The route reads the body already read here; after it, the real stream (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RequestMetrics:
    """Count and time every request by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Any) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            m = self.metrics
            m.http_requests.labels(m.service, scope["method"], route, str(status)).inc()
            m.http_seconds.labels(m.service, scope["method"], route).observe(
                time.perf_counter() - started)


def _too_large(size: int) -> JSONResponse:
    return error_response(413, "body", f"at most {MAX_BODY_BYTES} bytes ({size} so far)",
                          "split it into smaller batches")


def _nul(where: str) -> JSONResponse:
    return error_response(422, where, "text must not contain NUL (\\u0000) characters",
                          "remove them and send again")
