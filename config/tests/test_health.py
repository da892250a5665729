"""Readiness: each dependency ok or failing to anyone, the error text only to staff
and the host itself; the database pool checks a connection before handing it out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client

from accounts.testing import make_user

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"REMOTE_ADDR": "203.0.113.7"}
REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@pytest.mark.django_db
def test_readyz_ok_lists_each_dependency():
    response = Client().get("/readyz", **PUBLIC)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "cache": "ok",
            "channel_layer": "ok",
            "broker": "not configured",
        },
    }


@pytest.mark.django_db
def test_readyz_failing_tells_the_public_which_but_not_why(settings):
    # given a broker and a cache nothing answers on
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    settings.CACHES = REDIS_DOWN

    # when someone from outside asks
    response = Client().get("/readyz", **PUBLIC)

    # then 503, which dependency fails, and no error text
    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "checks": {
            "database": "ok",
            "cache": "failing",
            "channel_layer": "ok",
            "broker": "failing",
        },
    }


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_readyz_shows_the_error_text_to_the_local_host(settings, address):
    settings.CACHES = REDIS_DOWN

    response = Client().get("/readyz", REMOTE_ADDR=address)

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["cache"] == "failing"
    assert list(body["errors"]) == ["cache"]
    assert body["errors"]["cache"].startswith("ConnectionError: ")


@pytest.mark.django_db
def test_readyz_shows_the_error_text_to_signed_in_staff_only(settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    staff = Client()
    staff.force_login(make_user(is_staff=True))
    trader = Client()
    trader.force_login(make_user())

    staff_body = staff.get("/readyz", **PUBLIC).json()
    trader_body = trader.get("/readyz", **PUBLIC).json()

    assert list(staff_body["errors"]) == ["broker"]
    assert staff_body["errors"]["broker"].startswith("OperationalError: ")
    assert "errors" not in trader_body
    assert trader_body["checks"]["broker"] == "failing"


def test_the_pool_checks_connections_when_postgres_is_configured():
    # given the base settings with a PostgreSQL URL and the pool on
    code = (
        "import json; from config.settings import base; "
        "db = base.DATABASES['default']; "
        "print(json.dumps([db['CONN_HEALTH_CHECKS'], db['CONN_MAX_AGE'], "
        "sorted(db['OPTIONS']['pool'])]))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://exchange@127.0.0.1:5432/exchange",
        "DB_POOL": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    # then Django hands the pool ConnectionPool.check_connection (health checks
    # on) and the pool's own options do not name `check` a second time
    assert json.loads(result.stdout) == [True, 0, ["max_size", "min_size", "timeout"]]


def _pooled_wrapper(alias: str, *, checks: bool):
    """A second Django connection to the test database, through a psycopg pool
    of one connection, the way the base settings build it."""
    settings_dict = {
        **connection.settings_dict,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": checks,
        "OPTIONS": {
            **connection.settings_dict.get("OPTIONS", {}),
            "pool": {"min_size": 1, "max_size": 1, "timeout": 5},
        },
    }
    return type(connections["default"])(settings_dict, alias=alias)


def _backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone() == (True,)


@pytest.mark.postgres
@pytest.mark.django_db
def test_after_its_backend_is_killed_the_next_query_gets_a_live_connection():
    from psycopg_pool import ConnectionPool

    # given a pooled connection, used and given back to the pool
    wrapper = _pooled_wrapper("readyz-pool-checked", checks=True)
    try:
        assert wrapper.pool._check == ConnectionPool.check_connection
        first = _backend_pid(wrapper)
        wrapper.close()

        # when PostgreSQL kills its backend (a restart, an idle timeout)
        _terminate(first)

        # then the pool finds it dead and hands out a new one
        second = _backend_pid(wrapper)
        wrapper.close()
        assert second != first
    finally:
        wrapper.close_pool()


@pytest.mark.postgres
@pytest.mark.django_db
def test_without_the_check_the_pool_hands_out_the_dead_connection():
    # the control for the test above: the same steps, health checks off
    wrapper = _pooled_wrapper("readyz-pool-unchecked", checks=False)
    try:
        first = _backend_pid(wrapper)
        wrapper.close()
        _terminate(first)

        with pytest.raises(OperationalError):
            _backend_pid(wrapper)
    finally:
        wrapper.close()
        wrapper.close_pool()
