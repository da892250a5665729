"""The login lockout: per (account, client address), growing delays, the 429 with
`Retry-After`, on the API and the pages (accounts/lockout.py)."""

import pytest
import time_machine
from django.test import Client

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.services import user_login_lockout_clear
from accounts.testing import PASSWORD, make_user

WRONG = "wrong-password-1"
T0 = "2026-12-07 04:00:00Z"


def api_login(client: Client, password: str, email="trader@example.com", **headers):
    return client.post(
        "/api/v1/auth/login",
        {"email": email, "password": password},
        content_type="application/json",
        **headers,
    )


def locked_body(seconds: int, wait: str) -> dict:
    return {
        "error": {
            "code": "login_locked",
            "message": "Too many failed login attempts for this account from your "
            f"address. Try again in {wait}.",
            "details": {"retry_after_seconds": seconds},
        }
    }


@pytest.fixture
def proxied(settings):
    """Our proxy at 10.0.0.1 in front of every client."""
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    return Client(REMOTE_ADDR="10.0.0.1")


def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_avoid_the_lockout(
    user,
):
    # given no trusted proxies and an attacker who rotates X-Forwarded-For
    client = Client(REMOTE_ADDR="203.0.113.7")
    with time_machine.travel(T0, tick=False):
        # when it guesses five times, each "from" another address
        codes = [
            api_login(client, WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
            for n in range(5)
        ]
        # then the fifth locks the pair, and even the right password waits
        right = api_login(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert codes == [401, 401, 401, 401, 429]
    assert right.status_code == 429
    assert right["Retry-After"] == "60"
    assert right.json() == locked_body(60, "1 minute")
    # and the trail has the peer's address, never the header's
    addresses = set(
        AuditEvent.objects.filter(user=user)
        .exclude(code=AuditCode.USER_REGISTERED)
        .values_list("code", "ip_address")
    )
    assert addresses == {
        (AuditCode.LOGIN_FAILED, "203.0.113.7"),
        (AuditCode.LOGIN_LOCKED_OUT, "203.0.113.7"),
    }


def test_one_attacker_behind_a_shared_proxy_does_not_lock_the_others_out(user, proxied):
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    with time_machine.travel(T0, tick=False):
        # given an attacker who locked account A from their address
        codes = [api_login(proxied, WRONG, **attacker).status_code for _ in range(5)]
        # when they also send the victim's address as a hop to the left
        spoofed = api_login(
            proxied, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2, 203.0.113.7"
        )
        # and the account's owner logs in from their own address, same proxy
        owner = api_login(proxied, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2")
    # then the attacker stays locked and the owner is in
    assert codes == [401, 401, 401, 401, 429]
    assert (spoofed.status_code, spoofed["Retry-After"]) == (429, "60")
    assert owner.status_code == 200
    assert set(owner.json()) == {"access", "refresh"}
    # and each event has the address the proxy vouched for
    events = (
        AuditEvent.objects.filter(user=user)
        .exclude(code=AuditCode.USER_REGISTERED)
        .order_by("id")
    )
    assert [(e.code, e.ip_address) for e in events] == [
        *[(AuditCode.LOGIN_FAILED, "203.0.113.7")] * 4,
        (AuditCode.LOGIN_FAILED, "203.0.113.7"),
        (AuditCode.LOGIN_LOCKED_OUT, "203.0.113.7"),
        (AuditCode.LOGIN_LOCKED_OUT, "203.0.113.7"),
        (AuditCode.LOGIN_SUCCEEDED, "198.51.100.2"),
    ]
    assert events[5].extra == {
        "email": "trader@example.com",
        "retry_after_seconds": 60,
        "failures": 5,
    }


def test_the_wait_doubles_with_each_failure_after_it_and_is_capped(user, settings):
    # given a lockout after 3 failures: 60 s, doubling, at most 240 s
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.LOGIN_LOCKOUT_DELAY_SECONDS = 60
    settings.LOGIN_LOCKOUT_MAX_DELAY_SECONDS = 240
    client = Client(REMOTE_ADDR="203.0.113.7")

    def attempt(password):
        response = api_login(client, password)
        return response.status_code, response.get("Retry-After")

    with time_machine.travel(T0, tick=False) as clock:
        first = [attempt(WRONG) for _ in range(3)]
        clock.shift(30)
        half_way = attempt(PASSWORD)  # not even checked
        clock.shift(30)
        fourth = attempt(WRONG)
        clock.shift(119)
        almost = attempt(PASSWORD)
        clock.shift(1)
        fifth = attempt(WRONG)
        clock.shift(240)
        sixth = attempt(WRONG)
        clock.shift(240)
        right = attempt(PASSWORD)
        after = attempt(WRONG)
    assert first == [(401, None), (401, None), (429, "60")]
    assert half_way == (429, "30")
    assert fourth == (429, "120")
    assert almost == (429, "1")
    assert fifth == (429, "240")
    assert sixth == (429, "240")
    # a success forgets the failures: the next wrong password is a plain 401
    assert right == (200, None)
    assert after == (401, None)


def test_the_login_page_shows_the_wait_and_other_addresses_still_log_in(user):
    # given the page login locked for one address
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    with time_machine.travel(T0, tick=False):
        for _ in range(4):
            attacker.post("/login/", {"email": user.email, "password": WRONG})
        locked = attacker.post("/login/", {"email": user.email, "password": WRONG})
        # when the owner logs in from elsewhere
        owner = Client(REMOTE_ADDR="198.51.100.2").post(
            "/login/", {"email": user.email, "password": PASSWORD}
        )
    # then the attacker's page says how long to wait, and the owner is in
    assert locked.status_code == 429
    assert locked["Retry-After"] == "60"
    assert (
        "Too many failed login attempts for this account from your address. "
        "Try again in 1 minute." in locked.content.decode()
    )
    assert (owner.status_code, owner["Location"]) == (302, "/")


def test_staff_clearing_a_lockout_frees_every_address(user):
    # given the account locked from two addresses
    first, second = Client(REMOTE_ADDR="203.0.113.7"), Client(REMOTE_ADDR="203.0.113.8")
    with time_machine.travel(T0, tick=False):
        for client in (first, second):
            codes = [api_login(client, WRONG).status_code for _ in range(5)]
            assert codes[-1] == 429
        # when support clears it
        support = make_user(email="sam@example.com", roles=(Role.SUPPORT,))
        cleared = user_login_lockout_clear(
            user=user, staff=support, reason="verified caller"
        )
        # then both addresses may log in again
        statuses = [api_login(c, PASSWORD).status_code for c in (first, second)]
    assert cleared == 2  # django-axes' records, one per address
    assert statuses == [200, 200]
