"""The console's settings, read from the environment (CLOSEDLOOP_CONSOLE_*)."""
from __future__ import annotations

import secrets

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOSEDLOOP_CONSOLE_", extra="ignore",
                                      hide_input_in_errors=True)

    # The services' public APIs: the console never opens their databases.
    detector_url: str = "http://127.0.0.1:8081"
    incidents_url: str = "http://127.0.0.1:8082"
    notifier_url: str = "http://127.0.0.1:8083"
    capa_url: str = "http://127.0.0.1:8084"
    # Seals the session cookie (it carries the person's API key). Unset: a random one per
    # process, so sessions end with a restart; `closedloop up` keeps one under .closedloop/.
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    session_hours: float = Field(12.0, gt=0, description="how long a sign-in lasts")
    # Behind HTTPS: mark the cookie Secure so browsers never send it in clear.
    secure_cookies: bool = False
    api_timeout_seconds: float = Field(5.0, gt=0)
    # The board follows the incidents service's live feed; polling is the fallback for while
    # the feed is away.
    board_poll_seconds: int = Field(10, ge=1)
    # The big screen re-reads its summary this often, and at once when a card changes.
    wall_poll_seconds: int = Field(30, ge=1)
    # Where "today", weeks and months begin on the reports page and the big screen.
    time_zone: str = "UTC"

    def url_of(self, service: str) -> str:
        return getattr(self, f"{service}_url").rstrip("/")
