"""The price alert API: create, list, edit, delete; errors in the documented
shape naming the field; another user's alert is a 404."""

from __future__ import annotations

import pytest

from accounts.testing import api_client_for
from kyc.testing import make_verified_user
from trading.models import PriceAlert
from trading.services import alerts as alert_services
from trading.services import order_place
from trading.tests.helpers import assert_ledger_ok, match

pytestmark = pytest.mark.django_db

URL = "/api/v1/price-alerts"


@pytest.fixture
def watcher():
    return make_verified_user(email="watcher@example.com")


@pytest.fixture
def client(watcher):
    return api_client_for(watcher)


def _create(client, **body):
    return client.post(
        URL,
        {"symbol": "BTC-USD", "condition": "above", "price": "95000", **body},
        format="json",
    )


def _error(response) -> tuple[int, str, list[str]]:
    error = response.json()["error"]
    return response.status_code, error["code"], sorted(error["details"])


def test_create_list_edit_delete(btc_usd, client, watcher):
    created = _create(client, repeating=True, cooldown_seconds=600)
    assert created.status_code == 201, created.content
    body = created.json()
    alert = PriceAlert.objects.get()
    assert body == {
        "id": alert.pk,
        "symbol": "BTC-USD",
        "condition": "above",
        "price": "95000.00",
        "repeating": True,
        "cooldown_seconds": 600,
        "active": True,
        "cooldown_until": None,
        "triggered_count": 0,
        "last_triggered_at": None,
        "last_trade_id": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert (alert.user, alert.price_ticks) == (watcher, 95000)

    listed = client.get(URL, {"symbol": "btc-usd"})
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [alert.pk]

    edited = client.patch(
        f"{URL}/{alert.pk}", {"price": "94000", "active": False}, format="json"
    )
    assert edited.status_code == 200, edited.content
    assert (edited.json()["price"], edited.json()["active"]) == ("94000.00", False)
    assert client.get(f"{URL}/{alert.pk}").json()["price"] == "94000.00"

    assert client.delete(f"{URL}/{alert.pk}").status_code == 204
    assert not PriceAlert.objects.exists()
    assert _error(client.delete(f"{URL}/{alert.pk}")) == (
        404,
        "price_alert_not_found",
        ["id"],
    )


def test_validation_errors_name_the_field(btc_usd, client):
    assert _error(_create(client, price="95000.5")) == (400, "invalid_tick", ["price"])
    assert _error(_create(client, price=95000)) == (400, "invalid", ["price"])
    assert _error(_create(client, price="-1"))[2] == ["price"]
    assert _error(_create(client, condition="sideways")) == (
        400,
        "invalid",
        ["condition"],
    )
    assert _error(_create(client, symbol="NOPE-USD")) == (
        404,
        "unknown_symbol",
        ["symbol"],
    )
    assert _error(_create(client, repeating=True, cooldown_seconds=1)) == (
        400,
        "invalid_price_alert",
        ["cooldown_seconds"],
    )
    assert _error(_create(client, cooldown_seconds=600)) == (
        400,
        "invalid_price_alert",
        ["cooldown_seconds"],
    )
    alert = _create(client).json()
    assert _error(client.patch(f"{URL}/{alert['id']}", {}, format="json")) == (
        400,
        "invalid",
        ["price"],
    )
    assert _error(
        client.patch(f"{URL}/{alert['id']}", {"symbol": "ETH-USD"}, format="json")
    ) == (400, "invalid", ["symbol"])
    assert PriceAlert.objects.count() == 1


def test_the_active_limit_is_a_409(btc_usd, client, monkeypatch):
    monkeypatch.setattr(alert_services, "MAX_ACTIVE_PER_USER", 1)
    assert _create(client).status_code == 201
    assert _error(_create(client, price="96000")) == (
        409,
        "too_many_price_alerts",
        ["active", "limit"],
    )


def test_another_users_alert_is_a_404(btc_usd, client):
    other = make_verified_user(email="other@example.com")
    theirs = _create(api_client_for(other)).json()
    for response in (
        client.get(f"{URL}/{theirs['id']}"),
        client.patch(f"{URL}/{theirs['id']}", {"price": "1"}, format="json"),
        client.delete(f"{URL}/{theirs['id']}"),
    ):
        assert _error(response) == (404, "price_alert_not_found", ["id"])
    assert client.get(URL).json()["results"] == []
    assert PriceAlert.objects.get().price_ticks == 95000


def test_a_fired_alert_shows_its_trade(market):
    instrument, buyer, seller = market
    client = api_client_for(buyer)
    alert = _create(client, condition="below", price="95000").json()
    order_place(
        user=seller, symbol="BTC-USD", side="sell", price="94000", quantity="0.01"
    )
    match(instrument)
    order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="94000", quantity="0.01"
    )
    match(instrument)
    shown = client.get(f"{URL}/{alert['id']}").json()
    assert (shown["active"], shown["triggered_count"]) == (False, 1)
    assert shown["last_trade_id"] is not None
    rearmed = client.patch(f"{URL}/{alert['id']}", {"active": True}, format="json")
    assert rearmed.json()["active"] is True
    assert_ledger_ok()


def test_anonymous_is_401(btc_usd):
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401
