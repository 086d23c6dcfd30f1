"""Calls to the services' APIs with the signed-in person's key. A service that does not
answer becomes `ServiceDown`; a refusal keeps the API's own message (`Refused`)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from services.console.settings import ConsoleSettings


class ServiceDown(Exception):
    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class Refused(Exception):
    """The API answered 4xx/5xx: its `detail`, in the words the API chose."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def message_of(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        return response.reason_phrase
    if isinstance(detail, list):  # FastAPI's validation errors: field and message each
        return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg', '')}"
                         for e in detail if isinstance(e, dict))
    return str(detail) or response.reason_phrase


class Apis:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(timeout=settings.api_timeout_seconds)

    async def call(self, service: str, method: str, path: str, key: str, *,
                   json: Any = None, params: dict[str, Any] | None = None,
                   text: bool = False) -> Any:
        """The answer's JSON (its body as text with `text`: an HTML document)."""
        url = f"{self.settings.url_of(service)}{path}"
        try:
            response = await self.client.request(method, url, json=json, params=params,
                                                 headers={"X-API-Key": key})
        except httpx.HTTPError as error:
            raise ServiceDown(service) from error
        if response.status_code in (502, 503, 504):
            raise ServiceDown(service)
        if response.status_code >= 400:
            raise Refused(response.status_code, message_of(response))
        return response.text if text else response.json()

    async def changes(self, key: str) -> AsyncIterator[str]:
        """The incidents service's board feed (`GET /v1/board/events`) reduced to what a page
        needs: "changed" when any card changed, "down" once if the feed cannot be followed."""
        url = f"{self.settings.url_of('incidents')}/v1/board/events"
        timeout = httpx.Timeout(self.settings.api_timeout_seconds, read=60)  # pings every 15 s
        try:
            async with self.client.stream("GET", url, headers={"X-API-Key": key},
                                          timeout=timeout) as response:
                if response.status_code != 200:
                    yield "down"
                    return
                async for line in response.aiter_lines():
                    if line.startswith("event:") and line[6:].strip() in ("card", "reload"):
                        yield "changed"
        except httpx.HTTPError:
            yield "down"

    async def close(self) -> None:
        await self.client.aclose()
