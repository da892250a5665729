"""The client address: resolved once from the trusted proxies, and what the
throttles key on (config/clientip.py, config/throttling.py)."""

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from config.clientip import ClientAddressMiddleware, client_ip_resolve


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "trusted", "expected"),
    [
        # nobody trusted: the peer, whatever the header says
        ("203.0.113.7", "198.51.100.1", "", "203.0.113.7"),
        ("203.0.113.7", None, "", "203.0.113.7"),
        # one proxy of ours: the entry it appended; the client's own are ignored
        ("10.0.0.1", "198.51.100.1", "1", "198.51.100.1"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.1", "1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.1", "2", "198.51.100.1"),
        # a hop count, but a direct connection with no header: the peer
        ("10.0.0.1", None, "1", "10.0.0.1"),
        # fewer entries than proxies: the furthest one there is
        ("10.0.0.2", "198.51.100.1", "3", "198.51.100.1"),
        # CIDRs: an untrusted peer's header is ignored
        ("203.0.113.7", "198.51.100.1", "10.0.0.0/8", "203.0.113.7"),
        # a trusted peer: from the right, skipping our proxies
        ("10.0.0.1", "198.51.100.1", "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.2", "10.0.0.0/8", "198.51.100.1"),
        # a spoofed "proxy" address to the left of the client stops nothing
        ("10.0.0.1", "10.9.9.9, 198.51.100.1", "10.0.0.0/8", "198.51.100.1"),
        # only proxies of ours: the leftmost
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.0/8", "10.0.0.3"),
        # garbage where the client should be: the last good hop
        ("10.0.0.1", "not-an-ip", "10.0.0.0/8", "10.0.0.1"),
        ("10.0.0.1", "not-an-ip", "1", "10.0.0.1"),
        # ports, brackets, IPv6 and IPv4-mapped IPv6
        ("10.0.0.1", "198.51.100.1:4711", "1", "198.51.100.1"),
        ("10.0.0.1", "[2001:db8::1]:443", "1", "2001:db8::1"),
        ("::ffff:203.0.113.7", "198.51.100.1", "", "203.0.113.7"),
        ("fd00::1", "2001:db8::1", "fd00::/8", "2001:db8::1"),
        ("10.0.0.1", "198.51.100.1", "10.0.0.1/32, 192.168.0.0/16", "198.51.100.1"),
        # no peer address at all (a unix socket): unknown
        ("", "198.51.100.1", "1", None),
    ],
)
def test_client_address_resolution(remote_addr, forwarded_for, trusted, expected):
    resolved = client_ip_resolve(
        remote_addr=remote_addr, forwarded_for=forwarded_for, trusted=trusted
    )
    assert resolved == expected


def test_a_malformed_trusted_proxies_setting_refuses_to_start(settings):
    settings.TRUSTED_PROXIES = "10.0.0.0/8, 10.0.0"
    with pytest.raises(ImproperlyConfigured) as refused:
        ClientAddressMiddleware(lambda request: None)
    assert str(refused.value) == (
        "TRUSTED_PROXIES: '10.0.0' does not appear to be an IPv4 or IPv6 network; "
        "give a hop count or comma-separated CIDRs."
    )


@pytest.fixture
def login_limit(monkeypatch):
    """Two logins a minute per client address (the `login` scope)."""
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login", "2/min")


def _login(client: Client, *, email: str, **headers):
    return client.post(
        "/api/v1/auth/login",
        {"email": email, "password": "wrong-password-1"},
        content_type="application/json",
        **headers,
    )


@pytest.mark.django_db
def test_rotating_x_forwarded_for_from_an_untrusted_peer_keeps_one_bucket(
    login_limit,
):
    # given no trusted proxies and a client that rotates X-Forwarded-For
    client = Client(REMOTE_ADDR="203.0.113.7")
    # when it tries three logins, each "from" another address
    with time_machine.travel("2026-12-07 04:00:00Z", tick=False):
        responses = [
            _login(
                client,
                email=f"u{n}@example.com",
                HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
            )
            for n in range(3)
        ]
    # then the third is throttled all the same, in the error shape
    assert [r.status_code for r in responses] == [401, 401, 429]
    body = responses[2].json()
    assert body["error"]["code"] == "throttled"
    assert body["error"]["details"] == {"retry_after_seconds": 60}


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(login_limit, settings):
    # given our proxy at 10.0.0.1 in front of two clients
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    # when the first uses up its two logins, also prefixing a spoofed hop
    first = [
        _login(proxy, email="a@example.com", HTTP_X_FORWARDED_FOR="198.51.100.1"),
        _login(proxy, email="a@example.com", HTTP_X_FORWARDED_FOR="198.51.100.1"),
        _login(
            proxy,
            email="a@example.com",
            HTTP_X_FORWARDED_FOR="198.51.100.99, 198.51.100.1",
        ),
    ]
    second = _login(proxy, email="b@example.com", HTTP_X_FORWARDED_FOR="198.51.100.2")
    # then the first is throttled, the spoofed hop did not help, the second is not
    assert [r.status_code for r in first] == [401, 401, 429]
    assert second.status_code == 401
