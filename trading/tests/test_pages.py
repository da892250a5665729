"""The trading pages: my orders (cancel buttons), my fills, my portfolio."""

import copy

import pytest
from django.test import Client

from accounts.testing import api_client_for
from config.page_messages import group_digits
from kyc.testing import make_verified_user
from trading import views
from trading.models import Order
from trading.services import order_cancel, order_place
from trading.tests.helpers import balances, fund, make_btc_usd, match

pytestmark = pytest.mark.django_db

PAGES = ("/trading/orders/", "/trading/fills/", "/trading/portfolio/")


@pytest.fixture
def setup():
    """alice: one fill (bought 0.1 BTC from bob at 95,000) and one resting buy."""
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    bob = make_verified_user(email="bob@example.com")
    fund(alice, instrument.quote, 100_000_00)
    fund(bob, instrument.base, 10**8)
    order_place(user=bob, symbol="BTC-USD", side="sell", price="95000", quantity="0.1")
    match(instrument)
    order_place(user=alice, symbol="BTC-USD", side="buy", price="95000", quantity="0.1")
    resting, _ = order_place(
        user=alice, symbol="BTC-USD", side="buy", price="90000", quantity="0.5"
    )
    match(instrument)
    client = Client()
    client.force_login(alice, backend="accounts.backends.EmailBackend")
    return instrument, alice, bob, resting, client


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("url", PAGES)
def test_owner_sees_the_page(setup, url):
    response = setup[-1].get(url)
    assert response.status_code == 200
    assert b'href="/trading/orders/"' in response.content  # nav link


def test_orders_page_lists_open_orders_with_cancel_and_the_history(setup):
    instrument, alice, _, resting, client = setup
    content = client.get("/trading/orders/").content.decode()
    assert f'action="/trading/orders/{resting.pk}/cancel/"' in content
    assert "csrfmiddlewaretoken" in content
    assert "90,000.00" in content and "0.50000000" in content
    # The filled buy is in the history with its average price and BTC fee.
    assert "95,000.00" in content and "0.00020000 BTC" in content
    assert "filled" in content


def test_cancel_button_cancels_my_order(setup):
    instrument, alice, _, resting, client = setup
    response = client.post(f"/trading/orders/{resting.pk}/cancel/", follow=True)
    assert response.status_code == 200
    assert f"Cancel requested for order #{resting.pk}" in response.content.decode()
    match(instrument)  # on_commit does not run in these tests
    resting.refresh_from_db()
    assert (resting.status, resting.reason) == ("cancelled", "user")
    assert balances(alice)["USD"] == (100_000_00 - 9_500_00, 0)

    again = client.post(f"/trading/orders/{resting.pk}/cancel/", follow=True)
    assert "is already cancelled" in again.content.decode()


def test_cancelling_another_users_order_is_404(setup):
    instrument, _, bob, resting, _ = setup
    bobs = Client()
    bobs.force_login(bob, backend="accounts.backends.EmailBackend")
    assert bobs.post(f"/trading/orders/{resting.pk}/cancel/").status_code == 404
    assert bobs.post("/trading/orders/999999/cancel/").status_code == 404
    match(instrument)
    resting.refresh_from_db()
    assert resting.status == Order.Status.OPEN
    assert (
        f"/trading/orders/{resting.pk}/cancel/"
        not in bobs.get("/trading/orders/").content.decode()
    )


def test_cancel_needs_post_login_and_csrf(setup):
    instrument, alice, _, resting, client = setup
    url = f"/trading/orders/{resting.pk}/cancel/"
    assert client.get(url).status_code == 405
    assert Client().post(url).status_code == 302  # to the login page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice, backend="accounts.backends.EmailBackend")
    assert strict.post(url).status_code == 403
    match(instrument)
    resting.refresh_from_db()
    assert resting.status == Order.Status.OPEN


def test_orders_filters_and_history_paging(setup, monkeypatch):
    instrument, alice, _, resting, client = setup
    monkeypatch.setattr(views, "HISTORY_PAGE_SIZE", 2)
    for price in ("80000", "81000"):
        order, _ = order_place(
            user=alice, symbol="BTC-USD", side="buy", price=price, quantity="0.1"
        )
        match(instrument)
        order_cancel(user=alice, order_id=order.pk)
        match(instrument)
    first = client.get("/trading/orders/?status=")
    history = [r["order"].pk for r in first.context["history_rows"]]
    assert len(history) == 2 and first.context["next_url"]
    second = client.get(first.context["next_url"])
    assert len(second.context["history_rows"]) == 1
    assert second.context["history_rows"][0]["order"].pk not in history

    cancelled = client.get("/trading/orders/?status=cancelled")
    assert [r["order"].status for r in cancelled.context["history_rows"]] == [
        "cancelled",
        "cancelled",
    ]
    assert cancelled.context["open_rows"] == []
    other_symbol = client.get("/trading/orders/?symbol=BTC-USD")
    assert [r["order"].pk for r in other_symbol.context["open_rows"]] == [resting.pk]


def test_fills_page_shows_decimal_strings_and_filters(setup):
    client = setup[-1]
    content = client.get("/trading/fills/").content.decode()
    assert "95,000.00" in content and "0.10000000" in content
    assert "9,500.00 USD" in content and "0.00020000 BTC" in content
    assert "Taker" in content
    assert client.get("/trading/fills/?side=sell").context["rows"] == []
    assert len(client.get("/trading/fills/?side=buy").context["rows"]) == 1
    assert client.get("/trading/fills/?date_to=2000-01-01").context["rows"] == []


def test_portfolio_page_shows_the_api_numbers_in_the_chosen_quote(setup):
    _, alice, _, _, client = setup
    api = api_client_for(alice)
    for quote in ("USD", "BTC"):
        page = client.get(f"/trading/portfolio/?quote={quote}")
        assert page.status_code == 200
        body = api.get(f"/api/v1/portfolio?quote={quote}").json()
        # the API's numbers, plus the page's unrealized percentages
        shown = copy.deepcopy(page.context["portfolio"])
        for row in shown["assets"]:
            row.pop("unrealized_pct")
        shown["totals"].pop("unrealized_pct")
        assert shown == body
        content = page.content.decode()
        for value in body["totals"].values():
            if isinstance(value, str):
                assert group_digits(value) in content
    # USD: 0.0998 BTC received for 9,500.00 USD
    usd = client.get("/trading/portfolio/").context["portfolio"]
    btc_row = usd["assets"][0]
    assert (btc_row["asset"], btc_row["average_cost"]) == ("BTC", "95190.38")
    # 0.0998 BTC at 95,000 = 9,481.00, plus 90,500.00 USD (45,000.00 of it held)
    assert usd["totals"]["market_value"] == "99981.00"
    # unrealized -19.00 on the 9,500.00 the BTC cost: -0.20 %, shown in red
    assert btc_row["unrealized_pct"] == usd["totals"]["unrealized_pct"] == "-0.20"
    page = client.get("/trading/portfolio/").content.decode()
    assert '<dd class="pnl-down">-19.00 USD <small>(-0.20%)</small></dd>' in page
    bad = client.get("/trading/portfolio/?quote=NOPE", follow=True)
    assert bad.status_code == 200
    assert bad.context["portfolio"]["quote"] == "USD"
