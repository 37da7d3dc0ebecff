"""Availability of real services for tests marked ``services``.

Under REQUIRE_SERVICES=1 (CI) a missing service fails the test; otherwise it skips.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
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


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker():
    """A `celery worker` subprocess consuming a queue private to this test (needs Redis and PostgreSQL)."""
    from backoffice.celery import app

    url = redis_url()
    require_postgres()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": url, "DJANGO_SETTINGS_MODULE": "backoffice.settings"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backoffice", "worker", "--pool=solo", "-Q", queue, "--loglevel=INFO",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        app.conf.task_always_eager = previous
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output[-4000:])
