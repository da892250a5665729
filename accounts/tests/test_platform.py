"""Settings modes, probes and the API schema."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def test_healthz():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# /readyz: config/tests/test_health.py


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_without_warnings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 20
            + "a-very-long-random-production-secret-key-0123",
            "DJANGO_ALLOWED_HOSTS": "exchange.example.com",
            "KYC_ENCRYPTION_KEY": "cHJvZC10ZXN0LWt5Yy1rZXktMDEyMzQ1Njc4OWFiY2Q=",
            "API_KEY_ENCRYPTION_KEY": "cHJvZC10ZXN0LWFwaS1rZXktMDEyMzQ1Njc4OWFiY2Q=",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_ALLOWED_HOSTS="exchange.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_embedded_default_uses_sqlite_wal_inmemory_layer_and_eager_celery():
    code = (
        "import django, os; django.setup(); from django.conf import settings as s; "
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); "
        "print(s.DATABASES['default']['ENGINE'], c.fetchone()[0], "
        "s.DATABASES['default']['OPTIONS']['transaction_mode'], "
        "s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        SQLITE_PATH="/tmp/embedded-check.sqlite3",
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "wal",
        "IMMEDIATE",
        "channels.layers.InMemoryChannelLayer",
        "True",
    ]


@pytest.mark.django_db
def test_openapi_schema_documents_auth_endpoints_and_errors():
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    login = schema["paths"]["/api/v1/auth/login"]["post"]
    assert {"200", "400", "401", "403", "429"} <= set(login["responses"])
    assert "/api/v1/me/security-events" in schema["paths"]
    assert Client().get("/api/docs/").status_code == 200


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_api_request_under_asgi_runs_the_whole_chain_in_one_thread():
    """config.middleware.SyncMiddlewareChain (innermost, sync-only) makes Django run
    every middleware and the view in the same worker thread under ASGI."""
    import threading

    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    from accounts.testing import make_user

    seen: list[str] = []
    real = threading.current_thread

    user = await sync_to_async(make_user)(email="asgi@example.com")
    from config.middleware import SyncMiddlewareChain

    original = SyncMiddlewareChain.__call__

    def spy(self, request):
        seen.append(("chain", real().ident))
        return original(self, request)

    from django.contrib.sessions.middleware import SessionMiddleware

    original_session = SessionMiddleware.process_request

    def session_spy(self, request):
        seen.append(("session", real().ident))
        return original_session(self, request)

    from unittest import mock

    with (
        mock.patch.object(SyncMiddlewareChain, "__call__", spy),
        mock.patch.object(SessionMiddleware, "process_request", session_spy),
    ):
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get("/healthz")
    assert response.status_code == 200
    threads = {ident for _, ident in seen}
    assert [name for name, _ in seen] == ["session", "chain"]
    assert len(threads) == 1
