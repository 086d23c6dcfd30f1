"""The FastAPI shell every service shares: authenticated by default, open health and metrics
routes as an explicit opt-in, and errors that name the field and the fix."""
from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import causation
from shared.auth import refuse_undeclared
from shared.errors import DomainError, Invalid, NotFound
from shared.store import IntegrityError
from shared.observability import ServiceMetrics, setup_logging, setup_tracing
from shared.service import ServiceParts, ServiceRuntime
from shared.settings import ServiceSettings

MAX_BODY_BYTES = 16 * 1024 * 1024
# Paging: an offset past this is a mistake, not a page (and would overflow the database's int).
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="rows to skip")]


def open_routes() -> APIRouter:
    """The only routes without an API key: liveness, readiness and metrics."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        if not (runtime and runtime.ready):
            return JSONResponse({"status": "starting"}, 503)
        failing = runtime.failing()
        if failing:  # e.g. the relay cannot publish: say so instead of looking healthy
            return JSONResponse({"status": "degraded", "failing": failing}, 503)
        return JSONResponse({"status": "ready"}, 200)

    @router.get("/metrics")
    def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    return router


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": e["msg"],
                   "fix": f"send a valid {e['type'].replace('_', ' ')} for {_field(e['loc'])}"}
                  for e in exc.errors()]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": summary, "errors": errors}, status_code=422)

    @api.exception_handler(Invalid)
    async def invalid_content(_: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "errors": [
            {"field": exc.field, "message": exc.message}]}, status_code=422)

    @api.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(IntegrityError)
    async def concurrent_change(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse({"detail": "someone else changed this at the same moment; "
                             "read it again and retry"}, status_code=409)

    @api.exception_handler(DomainError)
    async def conflict(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @api.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics = request.app.state.metrics
        metrics.http_requests.labels(metrics.service, request.method, route,
                                     str(response.status_code)).inc()
        metrics.http_seconds.labels(metrics.service, request.method, route).observe(
            time.perf_counter() - started)
        return response

    @api.middleware("http")
    async def guard_input(request: Request, call_next):
        """Refuse what must never be stored: bodies past the size limit (declared or, when
        chunked, counted) and NUL characters, which PostgreSQL text cannot hold and which
        would otherwise leave an event no read model could show."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _too_large(int(length))
        if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
            return _nul("url")
        if request.method in ("POST", "PUT", "PATCH"):
            body, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    return _too_large(size)
                body.append(chunk)
            request._body = b"".join(body)  # what the route reads (BaseHTTPMiddleware replays it)
            if b"\\u0000" in request._body.lower():
                return _nul("body")
        return await call_next(request)


def _too_large(size: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body is over {MAX_BODY_BYTES} bytes ({size} so far); "
                         "split it into smaller batches"}, 413)


def _nul(where: str) -> JSONResponse:
    return JSONResponse({"detail": f"{where}: text must not contain NUL (\\u0000) characters; "
                         "remove them and send again"}, 422)


def build_api(settings: ServiceSettings, parts: ServiceParts, routers: Sequence[APIRouter],
              *, title: str, description: str) -> FastAPI:
    """Compose one service: its routes (each declaring the role it needs) around a
    runtime that owns the store, the bus, the relay, consumers, projections and workers."""
    metrics = ServiceMetrics(settings.service)

    @asynccontextmanager
    async def lifespan(api: FastAPI):
        setup_logging(settings.log_level)
        setup_tracing(settings.service, settings.otel_exporter)
        runtime = ServiceRuntime(settings, parts, metrics)
        api.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    docs = {} if settings.open_docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    api = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan, **docs)
    api.state.api_keys = settings.api_keys
    api.state.tokens = settings.token_verifier(parts.clock.now)
    api.state.metrics = metrics
    api.state.settings = settings
    api.include_router(open_routes())
    for router in routers:  # each route declares its role (viewer at least); none by omission
        refuse_undeclared(router.routes)
        api.include_router(router)
    _install_error_handlers(api)
    FastAPIInstrumentor.instrument_app(api, excluded_urls="healthz,readyz,metrics")
    return api


def runtime_of(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def request_cause(request: Request) -> dict[str, Any]:
    """The cause stored on events a request makes: the caller's X-Request-Id, else the trace."""
    return causation.from_request(request.headers.get("X-Request-Id"))
