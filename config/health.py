"""Liveness (`/healthz`) and readiness (`/readyz`) probes for load balancers.

`/readyz` tries each dependency the platform is configured with: the database, the
cache (Redis when REDIS_URL is set), the channel layer and the Celery broker. Anyone
may see which are ok or failing; the error text (host names, driver messages) only
staff signed in to the site or a probe from the host itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from config.clientip import client_ip

OK = "ok"
FAILING = "failing"
NOT_CONFIGURED = "not configured"

LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})
CHECK_TIMEOUT_SECONDS = 2


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def _check_cache() -> str:
    """A write and a read through Django's default cache (throttles, lockouts)."""
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the value written was not read back")
    cache.delete(key)
    return OK


def _check_channel_layer() -> str:
    """A message sent to a fresh channel of the default layer and received."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return NOT_CONFIGURED

    async def round_trip() -> None:
        import asyncio

        channel = await layer.new_channel("readyz.")
        await layer.send(channel, {"type": "readyz.ping"})
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            message = await layer.receive(channel)
        if message.get("type") != "readyz.ping":
            raise RuntimeError(f"received {message!r}")

    async_to_sync(round_trip)()
    return OK


def _check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return NOT_CONFIGURED
    from kombu import Connection

    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT_SECONDS
    ) as conn:
        conn.ensure_connection(max_retries=1)
    return OK


CHECKS: dict[str, Callable[[], str]] = {
    "database": _check_database,
    "cache": _check_cache,
    "channel_layer": _check_channel_layer,
    "broker": _check_broker,
}


def may_see_errors(request: HttpRequest) -> bool:
    """Staff signed in to the site, or a request from this host (its resolved
    client address: behind a trusted proxy on this host, the proxy's own peer
    address would make every caller look local)."""
    if client_ip(request) in LOCAL_ADDRESSES:
        return True
    try:
        user = request.user  # the session and the user: the database
        return bool(user.is_authenticated and user.is_staff)
    except Exception:  # the database or cache is what is failing: not shown
        return False


def readyz(request):
    checks: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check()
        except Exception as exc:  # any failure means "not ready"; say which
            checks[name] = FAILING
            errors[name] = f"{exc.__class__.__name__}: {exc}"
    ready = not errors
    body: dict = {"status": OK if ready else FAILING, "checks": checks}
    if errors and may_see_errors(request):
        body["errors"] = errors
    response = JsonResponse(body, status=200 if ready else 503)
    response["Cache-Control"] = "no-store"
    return response
