"""The batch endpoints: POST /api/v1/orders/batch and /api/v1/orders/batch-cancel."""

import pytest
from django.test import Client, override_settings

from accounts.testing import api_client_for, make_user
from kyc.testing import make_verified_user
from trading.api.serializers import OrderOutputSerializer
from trading.api.views import OrderRateThrottle
from trading.models import Order, OrderCommand
from trading.tests.helpers import assert_ledger_ok, balances, fund, make_btc_usd

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/orders/batch"
CANCEL = "/api/v1/orders/batch-cancel"


@pytest.fixture
def setup():
    instrument = make_btc_usd()
    user = make_verified_user(email="api@example.com")
    fund(user, instrument.quote, 100_000_00)
    return instrument, user, api_client_for(user)


def order(**body) -> dict:
    return {"symbol": "BTC-USD", "side": "buy", "price": "90000", "quantity": "0.5"} | (
        body
    )


def test_a_batch_returns_each_item_in_request_order(setup):
    _, user, client = setup
    response = client.post(
        BATCH,
        {
            "orders": [
                order(client_order_id="k-1"),  # 45,000.00
                order(price=90000),  # a JSON number: the serializer refuses it
                order(side="hold"),
                order(price="90000.50"),  # off the tick: the service refuses it
                order(quantity="1.2"),  # 108,000.00 > the 55,000.00 left
                order(client_order_id="k-1"),  # the first item again
                order(price="80000", quantity="0.1", client_order_id="k-2"),
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 400, 422, 200, 201]
    first, second = results[0]["order"], results[6]["order"]
    assert results[5]["order"] == first
    assert (first["client_order_id"], first["price"], first["status"]) == (
        "k-1",
        "90000.00",
        "pending",
    )
    assert first == client.get(f"/api/v1/orders/{first['id']}").json()
    assert second["id"] > first["id"]
    errors = {i: r["error"] for i, r in enumerate(results) if "error" in r}
    decimal_string = 'Send the amount as a decimal string, e.g. "10.50".'
    assert errors[1] == {
        "code": "invalid",
        "message": f"orders[1].price: {decimal_string}",
        "details": {"price": [decimal_string]},
    }
    assert errors[2]["code"] == "invalid"
    assert errors[2]["message"].startswith("orders[2].side: ")
    assert list(errors[2]["details"]) == ["side"]
    assert errors[3] == {
        "code": "invalid_tick",
        "message": "orders[3].price: must be a multiple of the tick size 1.00.",
        "details": {"price": ["Not a multiple of 1.00."]},
    }
    message = "amount: insufficient funds, 55000.00 USD available but 108000.00 needed."
    assert errors[4] == {
        "code": "insufficient_funds",
        "message": f"orders[4].{message}",
        "details": {"amount": [message], "asset": "USD"},
    }
    assert Order.objects.count() == 2
    assert balances(user) == {"USD": (100_000_00 - 53_000_00, 53_000_00)}
    assert_ledger_ok()


def test_an_item_refused_without_a_field_names_the_item(setup):
    _, user, client = setup
    with override_settings(TRADING_MAX_OPEN_ORDERS=1):
        results = client.post(
            BATCH, {"orders": [order(), order()]}, format="json"
        ).json()["results"]
    assert results[1] == {
        "status": 422,
        "error": {
            "code": "too_many_open_orders",
            "message": "orders[1]: You have 1 open orders, the maximum.",
            "details": {},
        },
    }


@pytest.mark.parametrize(
    "body",
    [
        [order()],  # not an object
        {},  # orders missing
        {"orders": order()},  # not a list
        {"orders": []},
        {"orders": [order()] * 4},  # more than TRADING_BATCH_MAX_ORDERS
    ],
    ids=["not-an-object", "missing", "not-a-list", "empty", "too-many"],
)
def test_envelope_errors_refuse_the_whole_request_naming_orders(setup, body):
    _, _, client = setup
    with override_settings(TRADING_BATCH_MAX_ORDERS=3):
        response = client.post(BATCH, body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == ["orders"]
    assert error["message"].startswith("orders: ")
    assert not Order.objects.exists()


def test_kyc_refuses_the_whole_batch(setup):
    client = api_client_for(make_user(email="new@example.com"))
    for orders in ([order()], [order(side="hold")]):  # even when no item is valid
        response = client.post(BATCH, {"orders": orders}, format="json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "kyc_required"
    assert not Order.objects.exists()


def test_a_batch_counts_as_many_order_requests_as_it_has_items(setup, monkeypatch):
    _, _, client = setup
    monkeypatch.setitem(OrderRateThrottle.THROTTLE_RATES, "orders", "5/min")
    small = {"orders": [order(price="100", quantity="0.01")] * 3}
    assert client.post(BATCH, small, format="json").status_code == 200  # 3 of 5
    refused = client.post(BATCH, small, format="json")  # 6 > 5: all refused
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert Order.objects.count() == 3
    one = order(price="100", quantity="0.01")
    assert client.post("/api/v1/orders", one, format="json").status_code == 201
    assert client.post(CANCEL, {"ids": [1]}, format="json").status_code == 200
    assert client.post("/api/v1/orders", one, format="json").status_code == 429
    assert Order.objects.count() == 4


def test_batch_cancel(setup):
    _, user, client = setup
    placed = client.post(
        BATCH,
        {"orders": [order(price="80000"), order(price="70000", quantity="0.1")]},
        format="json",
    ).json()["results"]
    first, second = (r["order"]["id"] for r in placed)
    other = make_verified_user(email="other@example.com")
    fund(other, Order.objects.get(pk=first).instrument.quote, 10_000_00)
    theirs = (
        api_client_for(other)
        .post(BATCH, {"orders": [order(price="100", quantity="0.01")]}, format="json")
        .json()["results"][0]["order"]["id"]
    )
    response = client.post(
        CANCEL, {"ids": [second, theirs, first, second]}, format="json"
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        (second, 202),
        (theirs, 404),
        (first, 202),
        (second, 202),
    ]
    assert results[1]["error"] == {
        "code": "order_not_found",
        "message": f"order {theirs} not found.",
        "details": {},
    }
    assert results[0]["order"]["id"] == second
    assert list(
        OrderCommand.objects.filter(kind="cancel").values_list("order_id", flat=True)
    ) == [second, first]
    for body in ([], {"ids": []}, {"ids": "1"}, {"ids": ["x"]}):
        bad = client.post(CANCEL, body, format="json")
        assert bad.status_code == 400
        assert list(bad.json()["error"]["details"]) == ["ids"]


def test_the_schema_documents_both_endpoints(setup):
    schema = Client().get("/api/schema/?format=json").json()
    place = schema["paths"][BATCH]["post"]
    cancel = schema["paths"][CANCEL]["post"]
    assert place["operationId"] == "orders_batch_place"
    assert cancel["operationId"] == "orders_batch_cancel"
    assert {"200", "400", "401", "403", "429"} <= set(place["responses"])
    assert {"200", "400", "401", "429"} <= set(cancel["responses"])
    for code in ("insufficient_funds", "client_order_id_reused", "kyc_required"):
        assert code in place["description"]
    assert "order_not_open" in cancel["description"]
    request = place["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = request.rsplit("/", 1)[1]
    items = schema["components"]["schemas"][name]["properties"]["orders"]["items"]
    assert items["$ref"].endswith("/OrderPlaceInputRequest")


def test_output_is_built_without_reading_orders_again(setup, settings):
    """With a real worker (not eager) the orders just written are the answer."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, _, client = setup
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client.post(BATCH, {"orders": [order(price="100", quantity="0.01")]}, format="json")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            BATCH, {"orders": [order(price="100", quantity="0.01")] * 5}, format="json"
        )
    reads = [q["sql"] for q in queries if 'FROM "trading_order"' in q["sql"]]
    assert reads == []
    body = response.json()["results"]
    order_ = Order.objects.select_related("instrument__base", "instrument__quote").get(
        pk=body[4]["order"]["id"]
    )
    assert body[4]["order"] == OrderOutputSerializer(order_).data
