"""Access to the real services (PostgreSQL, Redis) for the tests that need them.

Without REQUIRE_SERVICES=1 (a developer's plain SQLite run) such a test is skipped with the reason shown;
with it (CI), a missing service fails the test: CI never passes by skipping.
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        _unavailable("needs PostgreSQL: run with DATABASE_URL=postgres://…")


def require_redis() -> str:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                _unavailable(f"Redis at {url} did not answer PING")
    except OSError as error:
        _unavailable(f"needs Redis at {url}: {error}")
    return url


def shared_database_url() -> str:
    """A URL for the database the running test uses, for a subprocess (a Celery worker) to share it."""
    settings = connection.settings_dict
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings.get("PASSWORD") else "")
    return f"postgres://{auth}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def require_browser() -> None:
    """Debian's Chromium and the Playwright package, which drives it (no browser download)."""
    if not os.path.exists("/usr/bin/chromium"):
        _unavailable("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _unavailable("needs the playwright package")
