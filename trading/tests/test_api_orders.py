"""Order API basics: placement, retries by client_order_id, errors, amend, cancel."""

import pytest

from accounts.testing import api_client_for, make_user
from kyc.testing import make_verified_user
from trading.models import Order
from trading.tests.helpers import assert_ledger_ok, balances, fund, make_btc_usd, match

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    instrument = make_btc_usd()
    user = make_verified_user(email="api@example.com")
    fund(user, instrument.quote, 100_000_00)
    return instrument, user, api_client_for(user)


def place(client, **body):
    payload = {"symbol": "BTC-USD", "side": "buy", "price": "90000", "quantity": "0.5"}
    return client.post("/api/v1/orders", {**payload, **body}, format="json")


def test_place_returns_201_with_decimal_strings_and_reserves(setup):
    _, user, client = setup
    response = place(client, client_order_id="c-1")
    assert response.status_code == 201
    body = response.json()
    assert body["price"] == "90000.00"
    assert body["quantity"] == "0.50000000"
    assert body["remaining_quantity"] == "0.50000000"
    assert body["status"] == "pending"
    assert balances(user)["USD"] == (100_000_00 - 45_000_00, 45_000_00)


def test_client_order_id_retry_returns_the_same_order_and_other_body_is_409(setup):
    _, _, client = setup
    first = place(client, client_order_id="c-1")
    again = place(client, client_order_id="c-1")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = place(client, client_order_id="c-1", price="89000")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "client_order_id_reused"
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "body,status,code,field",
    [
        ({"price": "90000.50"}, 400, "invalid_tick", "price"),
        ({"quantity": "0.005"}, 400, "invalid_lot", "quantity"),
        ({"quantity": "-1"}, 400, "invalid_amount", "quantity"),
        ({"price": 90000}, 400, "invalid", "price"),
        ({"quantity": "5"}, 422, "insufficient_funds", None),
        ({"symbol": "NOPE-USD"}, 404, "unknown_symbol", "symbol"),
        ({"type": "market", "price": "1"}, 400, "invalid_order", "price"),
        ({"type": "stop_limit"}, 400, "invalid_order", "stop_price"),
        (
            {"post_only": True, "time_in_force": "ioc"},
            400,
            "invalid_order",
            "post_only",
        ),
        ({"side": "hold"}, 400, "invalid", "side"),
        # DAY ends with the trading day: this instrument has no calendar
        ({"time_in_force": "day"}, 400, "day_needs_calendar", "time_in_force"),
        (
            {"type": "market", "price": None, "time_in_force": "day"},
            400,
            "invalid_order",
            "time_in_force",
        ),
        (
            {"time_in_force": "day", "expire_at": "2030-01-31T12:00:00Z"},
            400,
            "invalid_order",
            "expire_at",
        ),
    ],
)
def test_bad_orders_are_refused_and_write_nothing(setup, body, status, code, field):
    _, user, client = setup
    response = place(client, **body)
    assert response.status_code == status, response.json()
    error = response.json()["error"]
    assert error["code"] == code
    if field:
        assert field in error["details"]
    assert not Order.objects.exists()
    assert balances(user) == {"USD": (100_000_00, 0)}


def test_unverified_user_gets_403_kyc_required():
    make_btc_usd()
    client = api_client_for(make_user(email="new@example.com"))
    response = place(client)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "kyc_required"


def test_amend_down_then_cancel(setup):
    instrument, user, client = setup
    order_id = place(client).json()["id"]
    match(instrument)
    amended = client.patch(
        f"/api/v1/orders/{order_id}", {"quantity": "0.2"}, format="json"
    )
    assert amended.status_code == 202
    match(instrument)
    body = client.get(f"/api/v1/orders/{order_id}").json()
    assert (body["quantity"], body["remaining_quantity"]) == (
        "0.20000000",
        "0.20000000",
    )
    assert balances(user)["USD"] == (100_000_00 - 18_000_00, 18_000_00)

    cancelled = client.delete(f"/api/v1/orders/{order_id}")
    assert cancelled.status_code == 202
    match(instrument)
    assert client.get(f"/api/v1/orders/{order_id}").json()["status"] == "cancelled"
    again = client.delete(f"/api/v1/orders/{order_id}")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order_not_open"
    assert balances(user) == {"USD": (100_000_00, 0)}
    assert_ledger_ok()


def test_another_users_order_is_404(setup):
    _, _, client = setup
    order_id = place(client).json()["id"]
    other = api_client_for(make_verified_user(email="other@example.com"))
    assert other.get(f"/api/v1/orders/{order_id}").status_code == 404
    assert other.delete(f"/api/v1/orders/{order_id}").status_code == 404
    assert (
        other.patch(
            f"/api/v1/orders/{order_id}", {"quantity": "1"}, format="json"
        ).status_code
        == 404
    )
    assert other.get("/api/v1/orders").json()["results"] == []


def test_order_output_built_directly_equals_drfs_generic_path(setup):
    """OrderOutputSerializer.to_representation skips DRF's per-field walk: it must
    give exactly what the declared fields give, for orders in every shape."""
    from rest_framework import serializers

    from trading.api.serializers import OrderOutputSerializer
    from trading.services import order_cancel, order_place

    instrument, buyer, client = setup
    seller = make_verified_user(email="seller@example.com")
    fund(seller, instrument.base, 10 * 10**8)
    order_place(user=seller, symbol="BTC-USD", side="sell", price="90000", quantity="1")
    resting, _ = order_place(
        user=buyer,
        symbol="BTC-USD",
        side="buy",
        price="80000",
        quantity="0.3",
        client_order_id="rest-1",
        post_only=True,
    )
    order_place(
        user=buyer,
        symbol="BTC-USD",
        side="buy",
        type="market",
        quote_quantity="9000.00",
    )
    order_place(
        user=seller,
        symbol="BTC-USD",
        side="sell",
        type="stop_limit",
        price="70000",
        stop_price="71000",
        quantity="0.1",
    )
    partial, _ = order_place(
        user=buyer,
        symbol="BTC-USD",
        side="buy",
        price="90000",
        quantity="0.5",
        time_in_force="ioc",
    )
    match(instrument)
    order_cancel(user=buyer, order_id=resting.pk)
    match(instrument)
    orders = list(Order.objects.select_related("instrument__base", "instrument__quote"))
    assert {order.status for order in orders} >= {"filled", "cancelled", "open"}
    assert any(order.filled_lots for order in orders)
    serializer = OrderOutputSerializer()
    for order in orders:
        generic = serializers.Serializer.to_representation(serializer, order)
        assert serializer.to_representation(order) == dict(generic)
        assert list(serializer.to_representation(order)) == list(generic)
    partial.refresh_from_db()
    assert client.get(f"/api/v1/orders/{partial.pk}").json() == dict(
        serializers.Serializer.to_representation(serializer, partial)
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/orders?symbol=BTC%00USD"),
        ("get", "/api/v1/markets/BTC%00USD/depth"),
        ("get", "/api/v1/markets/BTC%00USD/ticker"),
    ],
)
def test_a_symbol_with_a_nul_byte_is_an_unknown_symbol_not_a_500(setup, method, path):
    # Found by the contract test (config/tests/test_api_fuzz.py): PostgreSQL
    # refuses NUL in text, the query raised DataError and the API answered 500.
    _, _, client = setup
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_symbol"
