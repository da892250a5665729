"""The login lockout: per (account, client address), with growing delays.

Many honest clients may share one address (a company NAT, a mobile carrier), and
an attacker can try any account: so failures count for the pair, never for the
account alone. After `LOGIN_LOCKOUT_FAILURES` wrong passwords from one address for
one account, that pair waits `LOGIN_LOCKOUT_DELAY_SECONDS`; every further failure
(made once the wait is over) doubles it, up to `LOGIN_LOCKOUT_MAX_DELAY_SECONDS`.
During a wait the password is not even checked. A successful login from the
address forgets its failures; otherwise they are forgotten
`LOGIN_LOCKOUT_FORGET_HOURS` after the last one.

The counters live in the cache (Redis in production, shared by every process);
the address is `config.clientip.client_ip`, so a client cannot shed its failures
by rotating `X-Forwarded-For`. django-axes still records each failure for the
admin, but decides nothing.

A refused login marks the request (`login_lockout_mark`); the middleware below
turns whatever the view answered into the 429 with `Retry-After`, for the API,
the pages and the admin's sign-in alike."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from config.errors import error_body

LOCKED_CODE = "login_locked"
_PREFIX = "login-lockout"


def _now() -> float:
    return time.time()


def _account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _pair_keys(*, email: str, address: str | None) -> tuple[str, str]:
    """(failure counter, locked-until) keys of one account and address. The
    account's generation is part of them: staff clearing the account's lockout
    bumps it, which forgets every address at once."""
    account = _account_key(email)
    generation = cache.get(f"{_PREFIX}:gen:{account}", 0)
    pair = hashlib.sha256(f"{account}|{address or ''}".encode()).hexdigest()[:32]
    base = f"{_PREFIX}:{generation}:{pair}"
    return f"{base}:failures", f"{base}:until"


def _forget_seconds() -> int:
    return settings.LOGIN_LOCKOUT_FORGET_HOURS * 3600


def login_lockout_delay(*, failures: int) -> int:
    """Seconds a pair waits after its `failures`-th failure (0: no wait)."""
    threshold = settings.LOGIN_LOCKOUT_FAILURES
    if failures < threshold:
        return 0
    doublings = min(failures - threshold, 32)
    return min(
        settings.LOGIN_LOCKOUT_DELAY_SECONDS * 2**doublings,
        settings.LOGIN_LOCKOUT_MAX_DELAY_SECONDS,
    )


def login_lockout_wait(*, email: str, address: str | None) -> int:
    """Whole seconds this account must wait before trying from this address."""
    _, until_key = _pair_keys(email=email, address=address)
    until = cache.get(until_key)
    if until is None:
        return 0
    remaining = until - _now()
    return math.ceil(remaining) if remaining > 0 else 0


def login_failure_record(*, email: str, address: str | None) -> tuple[int, int]:
    """Count one wrong password for the pair. Returns (failures so far, the wait
    it now starts in seconds, 0 if none)."""
    failures_key, until_key = _pair_keys(email=email, address=address)
    forget = _forget_seconds()
    cache.add(failures_key, 0, timeout=forget)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.set(failures_key, 1, timeout=forget)
        failures = 1
    cache.touch(failures_key, timeout=forget)
    delay = login_lockout_delay(failures=failures)
    if delay:
        cache.set(until_key, _now() + delay, timeout=forget)
    return failures, delay


def login_failures_forget(*, email: str, address: str | None) -> None:
    """A successful login from this address: its failures are forgotten."""
    cache.delete_many(list(_pair_keys(email=email, address=address)))


def login_lockout_clear(*, email: str) -> None:
    """Forget the account's failures from every address (staff clearing it)."""
    key = f"{_PREFIX}:gen:{_account_key(email)}"
    cache.add(key, 0, timeout=None)
    cache.incr(key)


# --- What a locked-out client sees ---------------------------------------------


def lockout_message(seconds: int) -> str:
    return (
        "Too many failed login attempts for this account from your address. "
        f"Try again in {_wait_text(seconds)}."
    )


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def login_lockout_mark(request: HttpRequest, *, seconds: int) -> None:
    """Say that this request was refused by the lockout: the middleware answers."""
    # Any: the Django request, which carries our own `login_lockout_seconds`.
    django_request: Any = getattr(request, "_request", request)
    django_request.login_lockout_seconds = seconds


def lockout_response(request: HttpRequest, *, seconds: int) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body(
                LOCKED_CODE, lockout_message(seconds), {"retry_after_seconds": seconds}
            ),
            status=429,
        )
    else:
        response = render(
            request,
            "accounts/login.html",
            {"locked_message": lockout_message(seconds), "form_errors": []},
            status=429,
        )
    response["Retry-After"] = str(seconds)
    return response


class LoginLockoutMiddleware:
    """Answers a request the lockout refused with the 429 and `Retry-After`."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        seconds = getattr(request, "login_lockout_seconds", None)
        if seconds is not None:
            return lockout_response(request, seconds=seconds)
        return response
