"""Refresh-token families over real HTTP (Django's threaded live server, one
database connection per request thread): a reused rotated token ends its family,
and two requests racing one refresh token do not both win (PostgreSQL)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from accounts.models import AuditCode, AuditEvent, SignIn
from accounts.testing import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def post(base: str, path: str, body: dict, token: str | None = None):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "racer/1.0"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def login(base: str, email: str) -> dict:
    status, body = post(
        base, "/api/v1/auth/login", {"email": email, "password": PASSWORD}
    )
    assert status == 200, body
    return body


def test_a_reused_rotated_refresh_token_ends_its_family(live_server):
    base = live_server.url
    user = make_user(email="family@example.com")
    first = login(base, user.email)
    other = login(base, user.email)  # another family of the same user

    status, second = post(base, "/api/v1/auth/refresh", {"refresh": first["refresh"]})
    assert status == 200
    # when the rotated token comes back (stolen, replayed)
    status, body = post(base, "/api/v1/auth/refresh", {"refresh": first["refresh"]})
    assert status == 401 and body["error"]["code"] == "token_invalid"
    # then the newer token of that family is dead too
    status, body = post(base, "/api/v1/auth/refresh", {"refresh": second["refresh"]})
    assert status == 401
    assert body["error"]["message"] == "refresh: this sign-in was ended."
    status, _ = post(base, "/api/v1/stream-tickets", {}, token=second["access"])
    assert status == 401
    # and the reuse is audited once, naming the family
    family = SignIn.objects.get(end_reason="refresh_reused")
    event = AuditEvent.objects.get(code=AuditCode.TOKEN_REFRESH_REUSED)
    assert event.extra["family"] == str(family.public_id)
    assert event.target_id == str(family.pk)
    # while the other family lives on
    status, _ = post(base, "/api/v1/auth/refresh", {"refresh": other["refresh"]})
    assert status == 200


@pytest.mark.postgres
def test_two_racing_refreshes_of_one_token_do_not_both_succeed(live_server):
    base = live_server.url
    user = make_user(email="race@example.com")
    tokens = login(base, user.email)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def attempt(index: int) -> None:
        barrier.wait()
        results[index] = post(
            base, "/api/v1/auth/refresh", {"refresh": tokens["refresh"]}
        )

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 401]
    # the loser counts as a reuse: the family ends, the winner's token with it
    winner = next(body for status, body in results if status == 200)
    status, _ = post(base, "/api/v1/auth/refresh", {"refresh": winner["refresh"]})
    assert status == 401
    assert SignIn.objects.get().end_reason == "refresh_reused"
    assert AuditEvent.objects.filter(code=AuditCode.TOKEN_REFRESH_REUSED).count() == 1
