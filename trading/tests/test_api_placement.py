"""One order through `POST /api/v1/orders`: the order body checked without DRF's
serializer (`order_place_plain`) where it plainly can be, the serializer's
answer everywhere else, and the statements a placement request costs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from accounts.testing import api_client_for
from kyc.testing import make_verified_user
from trading.api.serializers import (
    OrderPlaceInputSerializer,
    order_place_input,
    order_place_plain,
)
from trading.models import Order
from trading.tests.helpers import fund, make_btc_usd

ORDERS = "/api/v1/orders"


def _serializer(body) -> dict | ValidationError:
    serializer = OrderPlaceInputSerializer(data=body)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    return ValidationError(serializer.errors)


def test_a_plain_body_is_checked_without_the_serializer_and_keeps_its_defaults():
    body = {"symbol": " btc-usd ", "side": "buy", "price": "100", "quantity": "1"}
    expected = {
        "symbol": "btc-usd",  # trimmed, as DRF's CharField does; cased later
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "stp": "expire_taker",
        "post_only": False,
        "price": "100",
        "quantity": "1",
    }
    assert order_place_plain(body) == expected
    assert _serializer(body) == expected


def test_every_field_of_a_plain_body_reaches_the_service_as_drf_gives_it():
    body = {
        "symbol": "BTC-USD",
        "side": "sell",
        "type": "stop_limit",
        "time_in_force": "gtd",
        "post_only": True,
        "price": "100.5",
        "stop_price": None,
        "quantity": " 1 ",  # amounts are not trimmed (wallet.money decides)
        "quote_quantity": None,
        "client_order_id": "a-1:b_2.c",
        "stp": "expire_both",
        "expire_at": " 2030-01-31T12:00:00Z ",
        "trailing_amount": "5",
        "trailing_bps": 25,
        "unknown": "ignored, as DRF ignores it",
    }
    expected = {
        "symbol": "BTC-USD",
        "side": "sell",
        "type": "stop_limit",
        "time_in_force": "gtd",
        "post_only": True,
        "price": "100.5",
        "stop_price": None,
        "quantity": " 1 ",
        "quote_quantity": None,
        "client_order_id": "a-1:b_2.c",
        "stp": "expire_both",
        "expire_at": "2030-01-31T12:00:00Z",
        "trailing_amount": "5",
        "trailing_bps": 25,
    }
    assert order_place_plain(body) == expected
    assert _serializer(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {},
        {"side": "buy"},
        {"symbol": "", "side": "buy"},
        {"symbol": "   ", "side": "buy"},
        {"symbol": "X" * 33, "side": "buy"},
        {"symbol": "BTC\x00", "side": "buy"},
        {"symbol": 5, "side": "buy"},  # DRF makes it "5": its answer is kept
        {"symbol": "BTC-USD"},
        {"symbol": "BTC-USD", "side": "hold"},
        {"symbol": "BTC-USD", "side": None},
        {"symbol": "BTC-USD", "side": "buy", "type": ""},
        {"symbol": "BTC-USD", "side": "buy", "post_only": "true"},
        {"symbol": "BTC-USD", "side": "buy", "post_only": 1},
        {"symbol": "BTC-USD", "side": "buy", "post_only": None},
        {"symbol": "BTC-USD", "side": "buy", "price": 100},
        {"symbol": "BTC-USD", "side": "buy", "price": ""},
        {"symbol": "BTC-USD", "side": "buy", "price": "1" * 65},
        {"symbol": "BTC-USD", "side": "buy", "client_order_id": ""},
        {"symbol": "BTC-USD", "side": "buy", "client_order_id": " ab "},
        {"symbol": "BTC-USD", "side": "buy", "client_order_id": "a b"},
        {"symbol": "BTC-USD", "side": "buy", "client_order_id": "x" * 65},
        {"symbol": "BTC-USD", "side": "buy", "client_order_id": 12},
        {"symbol": "BTC-USD", "side": "buy", "expire_at": ""},
        {"symbol": "BTC-USD", "side": "buy", "trailing_bps": "25"},
        {"symbol": "BTC-USD", "side": "buy", "trailing_bps": 2.0},
        {"symbol": "BTC-USD", "side": "buy", "trailing_bps": True},
    ],
)
def test_a_body_the_plain_check_does_not_pass_gets_the_serializers_answer(body):
    assert order_place_plain(body) is None
    expected = _serializer(body)
    if isinstance(expected, ValidationError):
        with pytest.raises(ValidationError) as refused:
            order_place_input(body)
        assert refused.value.detail == expected.detail
    else:
        assert order_place_input(body) == expected


def test_a_refusal_keeps_drfs_error_body():
    """The error body is the serializer's, field by field, message by message."""
    body = {"symbol": "", "side": "hold", "post_only": "maybe", "price": 1}
    with pytest.raises(ValidationError) as refused:
        order_place_input(body)
    assert refused.value.detail == {
        "symbol": ["This field may not be blank."],
        "side": ['"hold" is not a valid choice.'],
        "post_only": ["Must be a valid boolean."],
        "price": ['Send the amount as a decimal string, e.g. "10.50".'],
    }


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "",
            " ",
            "buy",
            "sell",
            "limit",
            "market",
            "stop_limit",
            "gtc",
            "ioc",
            "gtd",
            "day",
            "expire_taker",
            "cancel_both",
            "true",
            "BTC-USD",
            " BTC-USD ",
            "100.50",
            "1e3",
            "2030-01-31T12:00:00Z",
            "x" * 64,
            "x" * 65,
            "a\x00b",
            "\u00a0",
            "ab\n",
        ]
    ),
    st.text(max_size=70),
    st.lists(st.integers(), max_size=2),
)
_names = [
    "symbol",
    "side",
    "type",
    "time_in_force",
    "post_only",
    "price",
    "stop_price",
    "quantity",
    "quote_quantity",
    "client_order_id",
    "stp",
    "expire_at",
    "trailing_amount",
    "trailing_bps",
    "other",
]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.dictionaries(st.sampled_from(_names), _values, max_size=len(_names)),
    base=st.booleans(),
)
def test_the_plain_check_never_differs_from_the_serializer(body, base):
    """Property: whatever the body, the plain check either leaves it to the
    serializer or gives exactly what the serializer validates."""
    if base:  # mostly valid bodies, so that the plain path is taken often
        body = {"symbol": "BTC-USD", "side": "buy"} | body
    plain = order_place_plain(body)
    if plain is not None:
        assert _serializer(body) == plain


# --- the request ------------------------------------------------------------------


@pytest.fixture
def trader():
    instrument = make_btc_usd()
    user = make_verified_user(email="placer@example.com")
    fund(user, instrument.quote, 100_000_00)
    return user, api_client_for(user)


def _pinned_order(client, counted):
    """A warm order request with a worker to run the matching (not in the
    request), its statements captured by `counted()`: (response, their SQL)."""
    body = {"symbol": "BTC-USD", "side": "buy", "price": "100", "quantity": "0.01"}
    from django.conf import settings as django_settings

    django_settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        assert client.post(ORDERS, body, format="json").status_code == 201  # warm
        with counted() as captured:
            response = client.post(
                ORDERS, body | {"client_order_id": "pinned-1"}, format="json"
            )
    finally:
        django_settings.CELERY_TASK_ALWAYS_EAGER = True
    assert response.status_code == 201
    return response, [query["sql"] for query in captured.captured_queries]


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_order_request_costs_seven_statements(trader, django_assert_num_queries):
    """A single order request of a user without balance alerts: the token's
    user; then the placement's transaction (a savepoint here, BEGIN and COMMIT
    in production) with four statements: the user's lock with the
    instrument's state, the open orders with the accounts' lock and whether
    the user has an alert, the holds with their journals, entries and
    balances, and the order's rows (one row each: scalar parameters, no
    arrays). Before issue 24's placement work it was nine: the open orders and
    the accounts' lock were two statements; then eight, the balance alerts'
    statement sent for every hold."""
    user, client = trader
    response, sqls = _pinned_order(client, lambda: django_assert_num_queries(7))
    assert "accounts_user" in sqls[0]
    assert sqls[1].startswith("SAVEPOINT")
    assert "FOR NO KEY UPDATE OF u" in sqls[2]
    assert sqls[3].startswith("WITH a AS MATERIALIZED (SELECT id, owner_id")
    assert "wallet_balancealert" in sqls[3]
    assert "INSERT INTO wallet_hold" in sqls[4]
    assert sqls[5].startswith('WITH r0 AS (INSERT INTO "trading_order"')
    assert "VALUES (" in sqls[5] and "unnest" not in sqls[5]
    assert sqls[6].startswith("RELEASE SAVEPOINT")
    assert response.json()["client_order_id"] == "pinned-1"
    assert Order.objects.filter(user=user).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_order_of_a_user_with_an_alert_judges_it(trader):
    """With a balance alert (of any asset) the alerts' statement follows the
    holds' as before, and the hold that takes the available balance below
    the minimum is told once (its notification's statements follow)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.tests.recording import recorded
    from wallet.events import BalanceBelowMinimum
    from wallet.services import balance_alert_set

    user, client = trader
    usd = Order.objects.model._meta.apps.get_model("wallet", "Asset").objects.get(
        code="USD"
    )
    # 100,000.00 funded: the first order holds 1.00 (and its fee), the second
    # takes the balance below 99,999.00
    balance_alert_set(user=user, asset=usd, minimum=99_999_00)
    with recorded(BalanceBelowMinimum) as seen:
        _, sqls = _pinned_order(client, lambda: CaptureQueriesContext(connection))
    assert 'UPDATE "wallet_balancealert"' in sqls[5]
    assert any(
        sql.startswith('WITH r0 AS (INSERT INTO "trading_order"') for sql in sqls
    )
    assert [(event.user_id, event.asset, event.minimum) for event in seen] == [
        (user.pk, "USD", 99_999_00)
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_retry_by_client_order_id_reads_its_order_once_more(trader):
    """The replay (rare) costs one statement more, and answers the first order."""
    _, client = trader
    body = {
        "symbol": "BTC-USD",
        "side": "buy",
        "price": "100",
        "quantity": "0.01",
        "client_order_id": "retry-1",
    }
    first = client.post(ORDERS, body, format="json")
    again = client.post(ORDERS, body, format="json")
    reused = client.post(ORDERS, body | {"price": "101"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "client_order_id_reused"
