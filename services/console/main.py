"""The console's app: pages, vendored static assets (no CDN), and a plain error page in place
of any stack trace."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from shared.clock import Clock, SystemClock

from services.console import (
    bigscreen, incident_actions, oncall_pages, pages, reports_pages, rules_pages,
)
from services.console.apis import Apis
from services.console.i18n import translator
from services.console.incident_text import timeline_sentence
from services.console.roles import may
from services.console.session import Sessions, language
from services.console.settings import ConsoleSettings

HERE = Path(__file__).parent
log = logging.getLogger("closedloop.console")


def when(value: str | None) -> str:
    """An API timestamp as the page shows it: minutes, UTC."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def create_app(settings: ConsoleSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    apis = Apis(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await apis.close()

    app = FastAPI(title="closedloop console", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["translator"] = translator
    templates.env.filters["when"] = when
    templates.env.globals["timeline_sentence"] = timeline_sentence
    templates.env.globals["may"] = may
    app.state.settings, app.state.apis = settings, apis
    app.state.sessions, app.state.templates = Sessions(settings), templates
    app.state.clock = clock or SystemClock()  # the reports page's periods end "now"
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (pages, incident_actions, rules_pages, oncall_pages, reports_pages,
                   bigscreen):
        app.include_router(module.router)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready"})

    @app.exception_handler(Exception)
    async def plain_error(request: Request, error: Exception) -> HTMLResponse:
        log.exception("console page failed: %s", request.url.path)  # the trace stays here
        t = translator(language(request))
        return HTMLResponse(f"<!doctype html><title>{t('product')}</title>"
                            f"<p>{t('error')}</p><p><a href='/'>{t('board')}</a></p>", 500)

    return app
