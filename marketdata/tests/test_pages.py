"""The markets list and the trade screen render for anonymous and signed-in users;
unknown or closed markets are 404."""

import json

import pytest
from django.test import Client

from accounts.testing import make_user
from trading.models import Instrument
from trading.services import instrument_set_status
from trading.tests.helpers import make_btc_usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def btc():
    return make_btc_usd()


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="trade-config" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


def test_markets_page_lists_instruments_for_anyone(btc):
    response = Client().get("/markets/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-symbol="BTC-USD"' in html
    assert 'href="/trade/BTC-USD/"' in html
    assert "js/markets.js" in html


def test_trade_page_anonymous_is_read_only(btc):
    response = Client().get("/trade/BTC-USD/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-trade-screen" in html
    assert "data-order-form" not in html
    assert "Log in to place orders" in html
    assert "/login/?next=/trade/BTC-USD/" in html or "next=/trade/BTC-USD/" in html
    assert "vendor/lightweight-charts/lightweight-charts.standalone.production.js" in (
        html
    )
    config = config_of(response)
    assert config == {
        "symbol": "BTC-USD",
        "base": "BTC",
        "quote": "USD",
        "baseDecimals": 8,
        "quoteDecimals": 2,
        "tickSize": "1.00",
        "lotSize": "0.01000000",
        "minQuantity": "0.00000000",
        "minNotional": "0.00",
        "makerFeeBps": 10,
        "takerFeeBps": 20,
        "feePolicy": "received",
        "status": "trading",
        "statusReason": "",
        "timeZone": "",
        "defaultInterval": "1h",
        "authenticated": False,
        "csrfToken": "",
        "intervals": ["1m", "5m", "15m", "1h", "4h", "1d", "1w"],
        "api": "/api/v1",
    }


def test_trade_page_signed_in_has_the_form_and_a_csrf_token(btc):
    client = logged_in(make_user(email="trader@example.com"))
    response = client.get("/trade/btc-usd/")  # any case
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-order-form" in html
    assert "data-orders" in html and "data-fills" in html
    config = config_of(response)
    assert config["authenticated"] is True
    assert len(config["csrfToken"]) >= 32
    assert 'href="/markets/"' in html  # nav link
    # the review step, its preference, the shortcuts help, the depth chart
    assert "data-review" in html and "data-skip-review" in html
    assert "data-help" in html and "data-depth-canvas" in html
    assert "css/trade.css" in html


def test_trade_page_passes_the_users_time_zone(btc):
    user = make_user(email="zoned@example.com")
    user.time_zone = "Asia/Kolkata"
    user.save(update_fields=["time_zone"])
    response = logged_in(user).get("/trade/BTC-USD/")
    assert config_of(response)["timeZone"] == "Asia/Kolkata"


def test_unknown_and_closed_markets_are_404(btc):
    assert Client().get("/trade/DOGE-USD/").status_code == 404
    instrument_set_status(
        instrument=btc, status=Instrument.Status.CLOSED, reason="delisted"
    )
    assert Client().get("/trade/BTC-USD/").status_code == 404
    assert 'data-symbol="BTC-USD"' not in Client().get("/markets/").content.decode()


def test_halted_market_still_renders_with_its_status(btc):
    instrument_set_status(
        instrument=btc, status=Instrument.Status.HALTED, reason="maintenance"
    )
    response = Client().get("/trade/BTC-USD/")
    assert response.status_code == 200
    assert config_of(response)["status"] == "halted"
    assert config_of(response)["statusReason"] == "maintenance"
    html = response.content.decode()
    assert "Trading in BTC-USD is halted: maintenance." in html


def test_session_authenticated_api_call_needs_the_csrf_header(btc):
    """The page's JavaScript calls the same API with the session cookie; a write
    without the CSRF header is refused."""
    user = make_user(email="trader@example.com")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user, backend="accounts.backends.EmailBackend")
    assert client.get("/api/v1/orders").status_code == 200
    body = {"symbol": "BTC-USD", "side": "buy", "price": "100", "quantity": "0.01"}
    refused = client.post("/api/v1/orders", body, content_type="application/json")
    assert refused.status_code == 403
    token = config_of(client.get("/trade/BTC-USD/"))["csrfToken"]
    allowed = client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    # past CSRF: now the order rules speak (this user has no KYC)
    assert allowed.status_code == 403
    assert allowed.json()["error"]["code"] == "kyc_required"
