"""The signed-in home page's figures against a portfolio computed by hand
(marketdata/home.py), the landing page for visitors, and the preferences form."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from kyc.testing import make_verified_user
from marketdata.home import home_summary
from marketdata.models import Candle
from trading.services import order_place
from trading.tests.helpers import make_btc_usd, match
from wallet.tests.helpers import fund

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def alice_portfolio():
    """Alice deposits 100,000.00 USD on Dec 4 and buys 0.1 BTC at 95,000.00 on
    Dec 5 (taker fee 0.20% in BTC: she receives 0.0998 BTC). BTC closes at
    94,000.00 on Dec 5 and 95,500.00 on Dec 6; carol and bob trade at 96,000.00
    today, the last price."""
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    bob = make_verified_user(email="bob@example.com")
    carol = make_verified_user(email="carol@example.com")
    fund(bob, instrument.base, 10**8)
    fund(carol, instrument.quote, 1_000_000_00)
    with time_machine.travel(datetime(2026, 12, 4, 9, 0, tzinfo=UTC), tick=False):
        fund(alice, instrument.quote, 100_000_00)
    with time_machine.travel(datetime(2026, 12, 5, 9, 0, tzinfo=UTC), tick=False):
        order_place(
            user=bob, symbol="BTC-USD", side="sell", price="95000", quantity="0.1"
        )
        match(instrument)
        order_place(
            user=alice, symbol="BTC-USD", side="buy", price="95000", quantity="0.1"
        )
        match(instrument)
    # the daily closes (ticks of 1.00 USD): Dec 5 94,000, Dec 6 95,500
    Candle.objects.filter(instrument=instrument, interval="1d").delete()
    for day, close in ((5, 94_000), (6, 95_500)):
        Candle.objects.create(
            instrument=instrument,
            interval="1d",
            open_time=datetime(2026, 12, day, tzinfo=UTC),
            open=close,
            high=close,
            low=close,
            close=close,
        )
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        order_place(
            user=bob, symbol="BTC-USD", side="sell", price="96000", quantity="0.1"
        )
        match(instrument)
        order_place(
            user=carol, symbol="BTC-USD", side="buy", price="96000", quantity="0.1"
        )
        match(instrument)
    return alice


def test_home_figures_match_the_hand_computed_portfolio(alice_portfolio, settings):
    settings.HOME_HISTORY_DAYS = 4
    with time_machine.travel(NOW, tick=False):
        summary = home_summary(user=alice_portfolio)
    assert summary is not None
    # value: 90,500.00 USD + 0.0998 BTC x 96,000.00 = 100,080.80 USD
    assert summary.value == 100_080_80
    # overall: unrealized 9,580.80 - 9,500.00 cost = +80.80, on 100,000.00 put in
    assert (summary.pnl_overall, summary.pnl_overall_pct) == (80_80, "0.08")
    # yesterday's end: 90,500.00 + 0.0998 x 95,500.00 (Dec 6 close) = 100,030.90;
    # no money came in today: today +49.90, 0.0499 % of 100,030.90 -> 0.05
    assert (summary.pnl_today, summary.pnl_today_pct) == (49_90, "0.05")
    # one point per day's end, then now: Dec 3 nothing; Dec 4 the deposit (no BTC);
    # Dec 5 at its 94,000.00 close: 90,500.00 + 9,381.20; Dec 6 as above
    assert summary.history == [
        (datetime(2026, 12, 3).date(), 0),
        (datetime(2026, 12, 4).date(), 100_000_00),
        (datetime(2026, 12, 5).date(), 99_881_20),
        (datetime(2026, 12, 6).date(), 100_030_90),
        (datetime(2026, 12, 7).date(), 100_080_80),
    ]


def test_home_page_shows_the_figures_with_separators_and_colours(alice_portfolio):
    client = Client()
    client.force_login(alice_portfolio, backend="accounts.backends.EmailBackend")
    with time_machine.travel(NOW, tick=False):
        page = client.get("/").content.decode()
    assert '<dd data-figure="value">100,080.80 USD</dd>' in page
    assert 'class="pnl-up">+49.90 USD <small>(+0.05%)</small>' in page
    assert 'class="pnl-up">+80.80 USD <small>(+0.08%)</small>' in page
    assert '"value": "100080.80"' in page  # the chart's last point
    # recent activity, newest first: the 0.0998 BTC received, ... the deposit
    assert "+0.09980000 BTC" in page and "+100,000.00 USD" in page


def test_preferences_set_the_zone_and_currency_and_refuse_unknown_zones(
    alice_portfolio,
):
    client = Client()
    client.force_login(alice_portfolio, backend="accounts.backends.EmailBackend")
    bad = client.post(
        "/",
        {"action": "preferences", "time_zone": "Mars/Olympus", "display_currency": ""},
    )
    assert bad.status_code == 400
    saved = client.post(
        "/",
        {
            "action": "preferences",
            "time_zone": "Asia/Kolkata",
            "display_currency": "btc",
        },
    )
    assert saved.status_code == 302
    alice_portfolio.refresh_from_db()
    assert (alice_portfolio.time_zone, alice_portfolio.display_currency) == (
        "Asia/Kolkata",
        "BTC",
    )
    page = client.get("/").content.decode()
    assert 'data-time-zone="Asia/Kolkata"' in page
    assert "Your money in BTC" in page


def test_visitors_get_the_landing_page_with_the_markets():
    make_btc_usd()
    page = Client().get("/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'tr data-symbol="BTC-USD"' in text
    assert 'href="/signup/"' in text and "js/markets.js" in text
