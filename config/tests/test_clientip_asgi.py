"""Under a live uvicorn, run as the README says (`--no-proxy-headers`), the client
address is resolved in Django alone: a local peer's X-Forwarded-For is believed
only when TRUSTED_PROXIES says so. With uvicorn's default (proxy headers on,
127.0.0.1 trusted) the header would pick the address before Django sees it."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from accounts.models import AuditCode, AuditEvent
from accounts.testing import make_user


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(*, proxy_headers: bool):
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            "config.asgi:application",
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            proxy_headers=proxy_headers,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return server, thread, port


@pytest.fixture
def serve():
    running = []

    def start(*, proxy_headers: bool) -> int:
        server, thread, port = _serve(proxy_headers=proxy_headers)
        running.append((server, thread))
        return port

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


def _wrong_login(port: int, forwarded_for: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login",
        data=json.dumps(
            {"email": "trader@example.com", "password": "wrong-password-1"}
        ).encode(),
        headers={
            "Content-Type": "application/json",
            "Host": "localhost",
            "X-Forwarded-For": forwarded_for,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _failed_login_addresses() -> list[str | None]:
    return list(
        AuditEvent.objects.filter(code=AuditCode.LOGIN_FAILED)
        .order_by("id")
        .values_list("ip_address", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_with_no_proxy_headers_the_address_is_resolved_by_django_alone(serve, settings):
    make_user(email="trader@example.com")
    port = serve(proxy_headers=False)
    # given nobody trusted: the local peer's header is ignored
    assert _wrong_login(port, "198.51.100.1") == 401
    # given the local proxy trusted: its header is read, once, by Django
    settings.TRUSTED_PROXIES = "127.0.0.1/32"
    assert _wrong_login(port, "6.6.6.6, 198.51.100.2") == 401
    assert _failed_login_addresses() == ["127.0.0.1", "198.51.100.2"]


@pytest.mark.django_db(transaction=True)
def test_uvicorns_default_proxy_headers_would_pick_the_address_first(serve):
    # the pitfall the README's --no-proxy-headers avoids: with TRUSTED_PROXIES
    # empty, Django is told the header's address as if it were the peer
    make_user(email="trader@example.com")
    port = serve(proxy_headers=True)
    assert _wrong_login(port, "198.51.100.1") == 401
    assert _failed_login_addresses() == ["198.51.100.1"]
