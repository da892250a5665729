"""A share's trading day end to end through the API (issue 25): RELIANCE-INR on
an NSE-like calendar, each request at its moment of the day (a frozen clock),
the matcher woken by the sweeper as in production.

Pre-open orders collect and the market shows the indicative price; the opening
uncross trades at one price; continuous trading; a trade out of the volatility
band starts a call that uncrosses when due; the closing auction; DAY orders
expire at the close, GTC orders carry over, and a closed market refuses new
orders. Every balance is checked to the unit after each step (RELIANCE has 0
decimals, INR 2: amounts below are paise), then the ledger.

Fees: maker 5 bps, taker 10 bps, the `quote` policy (a buyer pays its fee in
INR on top, a seller receives the notional less its fee); an auction trade
charges both sides the maker rate (trading/fees.py, `auction_fee_bps`).
"""

from __future__ import annotations

from datetime import datetime, time

import pytest
import time_machine

from accounts.testing import api_client_for
from calendars.services import instrument_calendar_set
from calendars.tests.helpers import make_berlin, utc
from kyc.testing import make_verified_user
from trading.models import Order
from trading.services import instrument_create, matching_run
from trading.services.matching import matching_sweep
from trading.tests.helpers import assert_ledger_ok, balances, fund
from wallet.models import Account
from wallet.tests.helpers import make_asset

pytestmark = pytest.mark.django_db

DAY = (2026, 12, 8)  # a Tuesday; Kolkata is UTC+05:30
INR = 100  # paise per rupee
START_INR = 1_000_000 * INR


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return utc(*DAY, hour, minute, second)


@pytest.fixture
def day(django_capture_on_commit_callbacks):
    inr = make_asset("INR", 2)
    shares = make_asset("RELIANCE", 0, kind="security")
    instrument = instrument_create(
        symbol="RELIANCE-INR", base=shares, quote=inr, tick_size=5, lot_size=1,
        maker_fee_bps=5, taker_fee_bps=10, price_band_percent=0,
    )  # fmt: skip
    # NSE-like: pre-open 09:00 (03:30 UTC), opening call 09:08, continuous 09:15
    # (03:45 UTC), pre-close 15:30 (10:00 UTC), closing call 15:40, close 16:00
    # (10:30 UTC); a 5% volatility band, a 120 s call; no random ends.
    calendar = make_berlin(
        code="xnse", name="NSE-like", time_zone="Asia/Kolkata",
        pre_open_start=time(9, 0), opening_auction_start=time(9, 8),
        continuous_start=time(9, 15), opening_random_seconds=0,
        pre_close_start=time(15, 30), closing_auction_start=time(15, 40),
        close=time(16, 0), closing_random_seconds=0,
    )  # fmt: skip
    instrument = instrument_calendar_set(
        instrument=instrument,
        calendar=calendar,
        volatility_band_bps=500,
        volatility_call_seconds=120,
        volatility_random_seconds=0,
        acting_user=None,
    )
    users = {
        "seller": make_verified_user(email="seller@example.com"),
        "b1": make_verified_user(email="b1@example.com"),
        "b2": make_verified_user(email="b2@example.com"),
    }
    fund(users["seller"], shares, 100)
    fund(users["b1"], inr, START_INR)
    fund(users["b2"], inr, START_INR)

    def call(name, when, method, url, body=None, status=200):
        """A request at `when` (a token minted then), the matcher run on commit."""
        with time_machine.travel(when, tick=False):
            client = api_client_for(users[name])
            with django_capture_on_commit_callbacks(execute=True):
                response = getattr(client, method)(url, body, format="json")
        assert response.status_code == status, response.content
        return response.json()

    def place(name, when, status=201, **body):
        body = {"symbol": "RELIANCE-INR", "type": "limit", **body}
        return call(name, when, "post", "/api/v1/orders", body, status=status)

    def sweep(when):
        """The beat's sweep at `when`: it wakes the instruments with a session
        transition due, and each woken instrument's matching job runs."""
        with time_machine.travel(when, tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                woken = matching_sweep()
            for instrument_id in woken:
                while matching_run(instrument_id=instrument_id, now=when).more:
                    pass
        return woken

    return instrument, users, call, place, sweep


def status_of(call, name, when, order) -> tuple[str, str]:
    body = call(name, when, "get", f"/api/v1/orders/{order['id']}")
    return body["status"], body.get("reason") or ""


def fees_collected() -> int:
    return sum(
        account.balance
        for account in Account.objects.filter(kind=Account.Kind.FEES)
        if account.asset.code == "INR"
    )


def test_a_share_trading_day_through_the_api(day):  # noqa: PLR0915
    instrument, users, call, place, sweep = day
    seller, b1, b2 = users["seller"], users["b1"], users["b2"]

    # --- Pre-open (09:01 IST): crossed orders collect, nothing trades -----------
    sweep(at(3, 30, 1))
    sell_open = place("seller", at(3, 31), side="sell", price="2500.00", quantity="30")
    buy_day = place(
        "b1", at(3, 31), side="buy", price="2510.00", quantity="20",
        time_in_force="day",
    )  # fmt: skip
    buy_gtc = place("b2", at(3, 32), side="buy", price="2500.00", quantity="20")
    refused = place(
        "b2", at(3, 33), status=409, side="buy", price="2500.00", quantity="1",
        time_in_force="ioc",
    )  # fmt: skip
    assert refused["error"]["code"] == "time_in_force_not_in_call"
    assert status_of(call, "b1", at(3, 33), buy_day) == ("open", "")
    market = call("b1", at(3, 33), "get", "/api/v1/markets/RELIANCE-INR/ticker")
    assert market["session"]["phase"] == "pre_open"
    # 2500.00: 40 bid, 30 offered, 30 trade (10 bid left over); 2510.00: only 20
    assert market["indicative"] == {
        "price": "2500.00",
        "quantity": "30",
        "surplus": "10",
        "surplus_side": "buy",
    }

    # --- The opening uncross (09:15 IST): 30 shares at 2500.00 for all ------------
    woken = sweep(at(3, 45, 1))
    assert instrument.pk in woken
    assert status_of(call, "b1", at(3, 46), buy_day) == ("filled", "")
    assert status_of(call, "b2", at(3, 46), buy_gtc) == ("partially_filled", "")
    assert status_of(call, "seller", at(3, 46), sell_open) == ("filled", "")
    fills = call("b1", at(3, 46), "get", "/api/v1/fills")["results"]
    assert [(f["price"], f["quantity"], f["liquidity"], f["fee"]) for f in fills] == [
        ("2500.00", "20", "auction", "25.00")  # 50,000.00 at 5 bps
    ]
    assert balances(b1) == {
        "INR": (START_INR - 5_000_000 - 2_500, 0),
        "RELIANCE": (20, 0),
    }
    # b2: 10 bought (25,000.00 + 12.50); 10 more at 2500.00 held, with the
    # most the order's fees can still come to: 10 bps of 50,000.00 less 12.50
    b2_held = 2_500_000 + 5_000 - 1_250
    assert balances(b2) == {
        "INR": (START_INR - 2_500_000 - 1_250 - b2_held, b2_held),
        "RELIANCE": (10, 0),
    }
    assert balances(seller) == {"RELIANCE": (70, 0), "INR": (7_500_000 - 3_750, 0)}
    assert_ledger_ok()

    # --- Continuous (09:30 IST): the seller takes b2's bid (taker 10 bps) -------
    place("seller", at(4, 0), side="sell", price="2500.00", quantity="5")
    assert balances(seller) == {
        "RELIANCE": (65, 0),
        "INR": (7_500_000 - 3_750 + 1_250_000 - 1_250, 0),
    }
    # b2, the maker: 12,500.00 + 6.25; 5 left, held with the rest of its fee room
    b2_held = 1_250_000 + 5_000 - 1_250 - 625
    assert balances(b2) == {
        "INR": (START_INR - 2_500_000 - 1_250 - 1_250_000 - 625 - b2_held, b2_held),
        "RELIANCE": (15, 0),
    }

    # --- A volatility interruption: 2650.00 is outside 2500.00 +/- 5% -----------
    place("seller", at(4, 10), side="sell", price="2650.00", quantity="10")
    jump = place("b1", at(4, 11), side="buy", price="2700.00", quantity="10")
    assert status_of(call, "b1", at(4, 11, 30), jump) == ("open", "")
    market = call("b1", at(4, 11, 30), "get", "/api/v1/markets/RELIANCE-INR/ticker")
    assert market["session"]["phase"] == "volatility_auction"
    # 2650.00 and 2700.00 both trade 10 with no surplus: nearest the last price
    assert market["indicative"] == {
        "price": "2650.00",
        "quantity": "10",
        "surplus": "0",
        "surplus_side": None,
    }
    assert sweep(at(4, 12, 59)) == []  # the call ends at 04:13:00
    assert instrument.pk in sweep(at(4, 13, 0))
    assert status_of(call, "b1", at(4, 14), jump) == ("filled", "")
    market = call("b1", at(4, 14), "get", "/api/v1/markets/RELIANCE-INR/ticker")
    assert (market["session"]["phase"], market["indicative"]) == ("continuous", None)
    # 26,500.00 at the maker rate both sides: 13.25 each
    assert balances(b1) == {
        "INR": (START_INR - 5_000_000 - 2_500 - 2_650_000 - 1_325, 0),
        "RELIANCE": (30, 0),
    }
    seller_inr = 7_500_000 - 3_750 + 1_250_000 - 1_250 + 2_650_000 - 1_325
    assert balances(seller) == {"RELIANCE": (55, 0), "INR": (seller_inr, 0)}
    assert_ledger_ok()

    # --- Pre-close and the closing auction (16:00 IST) ---------------------------
    sell_day = place(
        "seller", at(10, 5), side="sell", price="2600.00", quantity="8",
        time_in_force="day",
    )  # fmt: skip
    place(
        "b1", at(10, 6), side="buy", price="2600.00", quantity="3",
        time_in_force="day",
    )  # fmt: skip
    assert balances(seller)["RELIANCE"] == (47, 8)
    sweep(at(10, 30, 1))
    market = call("b1", at(10, 31), "get", "/api/v1/markets/RELIANCE-INR/ticker")
    assert market["session"]["phase"] == "closed"
    # 3 at 2600.00 (b2's 2500.00 bid does not meet the 2600.00 offer): 7,800.00,
    # 3.90 each; the rest of the seller's DAY order expired, its shares free
    assert status_of(call, "seller", at(10, 31), sell_day) == ("expired", "day")
    assert balances(seller) == {
        "RELIANCE": (52, 0),
        "INR": (seller_inr + 780_000 - 390, 0),
    }
    assert balances(b1) == {
        "INR": (START_INR - 5_000_000 - 2_500 - 2_650_000 - 1_325 - 780_000 - 390, 0),
        "RELIANCE": (33, 0),
    }
    # b2's GTC bid carries over to the next day, its hold intact
    assert status_of(call, "b2", at(10, 31), buy_gtc) == ("partially_filled", "")
    assert balances(b2)["INR"][1] == b2_held

    # --- Closed: a new order is refused by the engine, its hold released --------
    late = place("b1", at(10, 40), side="buy", price="2600.00", quantity="1")
    assert status_of(call, "b1", at(10, 41), late) == ("rejected", "market_closed")
    assert balances(b1)["INR"][1] == 0

    # Fees: every trade's two sides, to the unit
    assert fees_collected() == 2_500 + 1_250 + 3_750 + 1_250 + 625 + 2 * 1_325 + 2 * 390
    assert Order.objects.filter(status__in=Order.OPEN_STATUSES).count() == 1
    assert_ledger_ok()

    # The next morning's pre-open: b2's GTC bid is in the call, still held
    sweep(utc(2026, 12, 9, 3, 30, 1))
    morning = utc(2026, 12, 9, 3, 31)
    market = call("b2", morning, "get", "/api/v1/markets/RELIANCE-INR/ticker")
    assert market["session"]["phase"] == "pre_open"
    assert status_of(call, "b2", morning, buy_gtc) == ("partially_filled", "")
    assert balances(b2)["INR"][1] == b2_held
