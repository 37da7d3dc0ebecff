"""Availability of real services for tests marked ``services``.

Under REQUIRE_SERVICES=1 (CI) a missing service fails the test; otherwise it skips.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection


def require(condition: bool, what: str) -> None:
    if condition:
        return
    if settings.REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {what} is not available")
    pytest.skip(f"{what} is not available (set it up, or run under REQUIRE_SERVICES=1 to fail instead)")


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    reachable = False
    if url:
        parsed = urlparse(url)
        try:
            with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2):
                reachable = True
        except OSError:
            reachable = False
    require(reachable, "Redis (REDIS_URL)")
    return url


def require_postgres() -> None:
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
