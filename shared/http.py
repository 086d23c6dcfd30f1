"""The FastAPI shell every service shares: authenticated by default, open health and metrics
routes as an explicit opt-in, and errors that name the field and the fix."""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import causation
from shared.auth import Role, refuse_undeclared, require
from shared.clock import AdjustableClock
from shared.clock_api import clock_routes
from shared.errors import DomainError, Invalid, NotFound
from shared.store import IntegrityError
from shared.observability import ServiceMetrics, setup_logging, setup_tracing
from shared.request_guard import RequestGuard, RequestMetrics, error_response
from shared.service import ServiceParts, ServiceRuntime
from shared.settings import ServiceSettings


class ErrorItem(BaseModel):
    field: str = Field(description='dotted path of the field, e.g. "alerts.0.labels.team"')
    message: str = Field(description='what is wrong, e.g. "at most 512 characters"')
    fix: str | None = Field(None, description="what to send instead")


class ErrorBody(BaseModel):
    """Every 4xx has this shape: one sentence, and for bad input the fields at fault."""

    detail: str
    errors: list[ErrorItem] = []


def _errors(*codes: int, why: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": why[code]} for code in codes}


_WHY = {401: "no API key, or an unknown one", 403: "the key's role is too low for this",
        400: "the body cannot be read as UTF-8 JSON", 404: "no such thing", 409: "a rule of the domain forbids it now, or someone changed "
        "it at the same moment", 413: "the body is over the size limit",
        422: "a field is invalid or over its size limit; each one is named"}
# Declared on every authenticated route, so the OpenAPI documents say what errors look like.
ERROR_RESPONSES = _errors(400, 401, 403, 404, 409, 413, 422, why=_WHY)
# Paging: an offset past this is a mistake, not a page (and would overflow the database's int).
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="rows to skip")]


def open_routes() -> APIRouter:
    """The only routes without an API key: liveness, readiness and metrics."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Up and the database answers. Says nothing else to an anonymous caller: the
        details are at GET /v1/health/details, behind an API key."""
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is None or not runtime.ready:
            return JSONResponse({"status": "starting"}, 503)
        if not await runtime.is_ready():
            return JSONResponse({"status": "unavailable"}, 503)
        return JSONResponse({"status": "ready"}, 200)

    @router.get("/metrics")
    def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    return router


def health_details() -> APIRouter:
    """Why a service is or is not ready: the bus, failing components, read-model versions."""
    router = APIRouter(tags=["health"])

    @router.get("/v1/health/details", dependencies=[Depends(require(Role.VIEWER))])
    async def details(request: Request) -> dict[str, Any]:
        return await request.app.state.runtime.details()

    return router


def _field(loc: Sequence[Any]) -> str:
    # A map key is part of the path; one that is itself too long is cut, not echoed whole.
    parts = [_short(str(part)) for part in loc if part not in ("body", "[key]")]
    return ".".join(parts) or "body"


def _short(part: str, keep: int = 40) -> str:
    return part if len(part) <= keep else f"{part[:keep]}…"


# Size errors say the limit in the same words everywhere: "labels: at most 64 keys".
_UNITS = {"Dictionary": "keys", "List": "items", "Tuple": "items", "Set": "items"}


def _message_and_fix(error: dict[str, Any]) -> tuple[str, str]:
    kind, ctx, field = error["type"], error.get("ctx") or {}, _field(error["loc"])
    if kind == "string_too_long":
        what = "keys" if error["loc"][-1:] == ("[key]",) else ""
        limit = f"at most {ctx['max_length']} characters"
        return (f"{what + ': ' if what else ''}{limit}",
                f"shorten {'the key' if what else field} to {limit}")
    if kind == "too_long":
        limit = f"at most {ctx['max_length']} {_UNITS.get(ctx.get('field_type'), 'items')}"
        return limit, f"send {limit} in {field}"
    return error["msg"], f"send a valid {kind.replace('_', ' ')} for {field}"


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]), "message": message, "fix": fix}
                  for e in exc.errors() for message, fix in [_message_and_fix(e)]]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"detail": summary, "errors": errors}, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8
            return error_response(400, "body", "cannot be read: it is not UTF-8 JSON",
                                  "send a JSON body encoded as UTF-8")
        return await http_exception_handler(request, exc)

    @api.exception_handler(Invalid)
    async def invalid_content(_: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "errors": [
            {"field": exc.field, "message": exc.message}]}, status_code=422)

    @api.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        named = [{"field": exc.field, "message": str(exc)}] if getattr(exc, "field", None) else []
        return JSONResponse({"detail": str(exc), **({"errors": named} if named else {})},
                            status_code=404)

    @api.exception_handler(IntegrityError)
    async def concurrent_change(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse({"detail": "someone else changed this at the same moment; "
                             "read it again and retry"}, status_code=409)

    @api.exception_handler(DomainError)
    async def conflict(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)


def build_api(settings: ServiceSettings, parts: ServiceParts, routers: Sequence[APIRouter],
              *, title: str, description: str,
              open_routers: Sequence[APIRouter] = ()) -> FastAPI:
    """Compose one service: its routes (each declaring the role it needs) around a
    runtime that owns the store, the bus, the relay, consumers, projections and workers.
    `open_routers` take no API key because the request carries its own credential (a
    signed link) that each of their routes checks: the opt-in is named where it is made."""
    metrics = ServiceMetrics(settings.service)
    extra: list[APIRouter] = []
    if settings.clock_adjustable:  # the runtime and every part read the adjustable clock
        parts.clock = AdjustableClock(parts.clock)
        extra.append(clock_routes(parts.clock, settings.service))

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
    api.include_router(health_details())
    for router in [*routers, *extra]:  # each route declares its role; none by omission
        refuse_undeclared(router.routes)
        api.include_router(router, responses=ERROR_RESPONSES)
    for router in open_routers:
        api.include_router(router)
    _install_error_handlers(api)
    api.add_middleware(RequestGuard)
    api.add_middleware(RequestMetrics, metrics=metrics)  # the outermost: refusals count too
    FastAPIInstrumentor.instrument_app(api, excluded_urls="healthz,readyz,metrics")
    _hoist_body_definitions(api)
    return api


def body_schema(shape: Any) -> dict[str, Any]:
    """`openapi_extra` for a route that parses its own JSON body: the shape's JSON Schema, its
    models referenced from the document's components (where build_api puts them)."""
    schema = TypeAdapter(shape).json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _hoist_body_definitions(api: FastAPI) -> None:
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    content = operation.get("requestBody", {}).get("content", {})
                    for media in content.values():
                        components.update(media.get("schema", {}).pop("$defs", {}))
        return api.openapi_schema

    api.openapi = openapi


def runtime_of(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def request_cause(request: Request) -> dict[str, Any]:
    """The cause stored on events a request makes: the caller's X-Request-Id, else the trace."""
    return causation.from_request(request.headers.get("X-Request-Id"))
