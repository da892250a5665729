"""What a key may do once its signature holds: scopes by method and view, the
address allowlist (the client address as config/clientip.py resolves it)."""

from __future__ import annotations

import pytest
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apikeys.tests.conftest import SignedClient, error_code, make_key

ME = "/api/v1/me"


def client_for(owner, **fields) -> SignedClient:
    key, secret = make_key(owner, **fields)
    return SignedClient(key, secret)


def test_read_reaches_the_safe_endpoints(owner):
    client = client_for(owner)
    for path in (ME, "/api/v1/orders", "/api/v1/wallet/balances", "/api/v1/fills"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/orders"),
        ("DELETE", "/api/v1/orders"),
        ("POST", "/api/v1/orders/batch"),
        ("POST", "/api/v1/orders/batch-cancel"),
        ("POST", "/api/v1/orders/oco"),
        ("POST", "/api/v1/orders/preview"),
        ("PATCH", "/api/v1/orders/1"),
        ("DELETE", "/api/v1/orders/1"),
    ],
)
def test_order_endpoints_need_trade(owner, method, path):
    reader = client_for(owner)
    refused = reader.request(method, path, json={})
    assert refused.status_code == 403
    body = refused.json()["error"]
    assert body["code"] == "scope_missing"
    assert body["details"] == {"scope": "trade"}
    trader = client_for(owner, scopes=("read", "trade"))
    allowed = trader.request(method, path, json={})
    # past the scope: the order endpoint's own answer
    assert allowed.status_code in (202, 400, 404), allowed.content
    assert allowed.status_code == 202 or error_code(allowed) != "scope_missing"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/wallet/withdrawals"),
        ("POST", "/api/v1/wallet/withdrawals/1/cancel"),
    ],
)
def test_withdrawal_endpoints_need_withdraw(owner, method, path):
    trader = client_for(owner, scopes=("read", "trade"))
    refused = trader.request(method, path, json={})
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"scope": "withdraw"}
    withdrawer = client_for(
        owner, scopes=("read", "withdraw"), ip_allowlist=["127.0.0.1"]
    )
    allowed = withdrawer.request(method, path, json={})
    assert allowed.status_code in (400, 404, 409, 422), allowed.content
    assert error_code(allowed) != "scope_missing"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/api/v1/me"),
        ("POST", "/api/v1/auth/password"),
        ("POST", "/api/v1/auth/2fa/setup"),
        ("POST", "/api/v1/wallet/deposits"),
        ("POST", "/api/v1/wallet/beneficiaries"),
        ("POST", "/api/v1/wallet/transfers"),
        ("PUT", "/api/v1/trading/preferences"),
        ("POST", "/api/v1/me/sessions/end-others"),
        ("POST", "/api/v1/api-keys"),
    ],
)
def test_account_endpoints_take_no_key(owner, method, path):
    client = client_for(
        owner, scopes=("read", "trade", "withdraw"), ip_allowlist=["127.0.0.1"]
    )
    response = client.request(method, path, json={})
    assert response.status_code == 403, (path, response.content)
    body = response.json()["error"]
    assert body["code"] == "scope_missing"
    assert "takes no API key" in body["message"]


class OpenWrite(APIView):
    """A write open to anyone: its own permission list, without the scope check."""

    permission_classes = [AllowAny]

    def post(self, request):
        return Response({"user": request.user.pk})


def test_a_view_with_its_own_permissions_still_checks_the_scope(owner):
    client = client_for(owner)
    meta = client.headers("POST", "/open")
    request = APIRequestFactory().post(
        "/open", data=b"", content_type="application/json", **meta
    )
    response = OpenWrite.as_view()(request)
    assert response.status_code == 403
    assert response.data["error"]["code"] == "scope_missing"


def test_a_view_without_authentication_never_reads_the_key(owner):
    """Login authenticates nobody: the key headers are not consulted and the
    request is anyone's (here: missing credentials)."""
    client = client_for(owner)
    response = client.post("/api/v1/auth/login", json={})
    assert response.status_code == 400
    assert sorted(response.json()["error"]["details"]) == ["email", "password"]


def test_key_management_takes_no_key_even_to_read(owner):
    client = client_for(owner)
    for path in ("/api/v1/api-keys", f"/api/v1/api-keys/{client.key.key_id}"):
        response = client.get(path)
        assert response.status_code == 403
        assert error_code(response) == "scope_missing"


def test_stream_tickets_take_a_read_key(owner):
    response = client_for(owner).post("/api/v1/stream-tickets")
    assert response.status_code == 201
    assert response.json()["expires_in"] > 0


# --- the address allowlist ---------------------------------------------------


@pytest.mark.parametrize(
    ("allowlist", "address", "allowed"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["10.0.0.0/8"], "10.20.30.40", True),
        (["10.0.0.0/8", "192.0.2.7"], "192.0.2.7", True),
        (["2001:db8::/32"], "2001:db8::5", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["192.0.2.7"], "192.0.2.8", False),
        (["2001:db8::/32"], "127.0.0.1", False),
    ],
)
def test_the_allowlist(owner, allowlist, address, allowed):
    client = client_for(owner, ip_allowlist=allowlist)
    response = client.get(ME, extra={"REMOTE_ADDR": address})
    if allowed:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403
        body = response.json()["error"]
        assert body["code"] == "address_not_allowed"
        assert body["details"] == {"address": address}


def test_a_forwarded_for_header_is_not_the_address_without_trusted_proxies(owner):
    client = client_for(owner, ip_allowlist=["10.0.0.1"])
    response = client.get(ME, extra={"HTTP_X_FORWARDED_FOR": "10.0.0.1"})
    assert error_code(response) == "address_not_allowed"


def test_a_trusted_proxy_forwards_the_address(owner, settings):
    settings.TRUSTED_PROXIES = "127.0.0.1/32"
    client = client_for(owner, ip_allowlist=["10.0.0.1"])
    response = client.get(ME, extra={"HTTP_X_FORWARDED_FOR": "10.0.0.1"})
    assert response.status_code == 200, response.content


def test_the_address_is_checked_before_the_scope(owner):
    client = client_for(owner, ip_allowlist=["10.0.0.0/8"])
    response = client.post("/api/v1/orders", json={})
    assert error_code(response) == "address_not_allowed"


def test_a_key_replays_its_users_stream_events(owner):
    """The replay endpoint names its own authentication classes: the key is one."""
    client = client_for(owner)
    response = client.get("/api/v1/events")
    assert response.status_code == 200, response.content
    (event,) = response.json()["results"]  # the notice of the key's creation
    assert event["type"] == "notification"
    assert event["notification"]["data"] == {
        "key": client.key.key_id,
        "action": "Created",
    }
    elsewhere = client_for(owner, ip_allowlist=["203.0.113.0/24"]).get("/api/v1/events")
    assert elsewhere.status_code == 403
    assert error_code(elsewhere) == "address_not_allowed"
