"""OCO pairs, trailing stops and good-till-date orders through the HTTP API, with
PostgreSQL and the matcher (issue 22; docs/trading.md, "Order types").

Each API call runs the real path: the view's transaction commits, the on-commit
hook sends the (eager) matching task. After each step every balance (available,
held), the fee accounts and the ledger (verify_ledger, which also proves every
open order's hold, a shared OCO hold against its larger leg) are checked to the
unit. BTC-USD: price step 1.00 USD (= ticks), 0.01 BTC lots, one tick x one lot =
1 cent; maker 10 bps, taker 20 bps, buyers pay fees in BTC, sellers in USD,
rounded up.
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from trading.models import Order
from trading.services import matching_run
from trading.services.matching import matching_sweep
from trading.tests.conftest import BTC, USD
from trading.tests.test_e2e_api import LOT, Session
from wallet.models import Hold

pytestmark = pytest.mark.django_db

MAKER, TAKER = 10, 20


def fee(amount: int, bps: int) -> int:
    return -(-amount * bps // 10_000)


@pytest.fixture
def s(make_trader, django_capture_on_commit_callbacks):
    users = {
        "A": make_trader("a@example.com", btc=2 * BTC),
        "B": make_trader("b@example.com", btc=2 * BTC),
        "C": make_trader("c@example.com", usd=500_000 * USD),
        "D": make_trader("d@example.com", usd=500_000 * USD),
    }
    session = Session(django_capture_on_commit_callbacks, users)
    session.move("A", "BTC", 2 * BTC)
    session.move("B", "BTC", 2 * BTC)
    session.move("C", "USD", 500_000 * USD)
    session.move("D", "USD", 500_000 * USD)
    return session


def trade(s, *, seller: str, buyer: str, price: int, lots: int, taker: str) -> None:
    """A trade at `price` (whole USD = ticks) between two users, the maker
    placed first; the expected balances and fees moved to match."""
    quantity = f"{lots / 100:.2f}"
    first, second = ("sell", "buy") if taker == "buy" else ("buy", "sell")
    users = {"sell": seller, "buy": buyer}
    s.place(users[first], side=first, price=str(price), quantity=quantity)
    s.place(users[second], side=second, price=str(price), quantity=quantity)
    settle(s, seller=seller, buyer=buyer, price=price, lots=lots, taker=taker)


def settle(s, *, seller, buyer, price, lots, taker, seller_held=True, buyer_held=True):
    """The movements of one fill: the seller's base and the buyer's quote come
    out of holds (moved from available unless `*_held`: already held)."""
    notional = price * lots
    seller_fee = fee(notional, TAKER if taker == "sell" else MAKER)
    buyer_fee = fee(lots * LOT, TAKER if taker == "buy" else MAKER)
    if seller_held:
        s.move(seller, "BTC", -lots * LOT)
    else:
        s.move(seller, "BTC", 0, -lots * LOT)
    s.move(seller, "USD", notional - seller_fee)
    if buyer_held:
        s.move(buyer, "USD", -notional)
    else:
        s.move(buyer, "USD", 0, -notional)
    s.move(buyer, "BTC", lots * LOT - buyer_fee)
    s.fees["USD"] += seller_fee
    s.fees["BTC"] += buyer_fee


def oco(s, name: str, status: int = 201, **body) -> dict:
    body = {"symbol": "BTC-USD", **body}
    response = s.call(name, "post", "/api/v1/orders/oco", body, status=status)
    return response.json()


def hold_of(order_id: int) -> Hold:
    hold = Order.objects.select_related("hold").get(pk=order_id).hold
    assert hold is not None
    return hold


# --- OCO ------------------------------------------------------------------------


def test_sell_oco_limit_leg_fills_partly_then_fully(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    s.check()

    # A pair: take profit at 110,000, stop out at 95,000; one hold of 0.2 BTC.
    body = oco(s, "A", side="sell", quantity="0.2", price="110000", stop_price="95000")
    limit_id, stop_id = (order["id"] for order in body["orders"])
    assert body["oco_id"] == limit_id
    assert [o["type"] for o in body["orders"]] == ["limit", "stop_market"]
    assert body["orders"][0]["oco_partner_id"] == stop_id
    assert body["orders"][1]["oco_partner_id"] == limit_id
    s.move("A", "BTC", -20 * LOT, 20 * LOT)
    s.check()
    assert hold_of(limit_id).pk == hold_of(stop_id).pk
    s.assert_order("A", limit_id, status="open", stop_price=None)
    s.assert_order("A", stop_id, status="open", stop_price="95000.00")

    # C takes 0.05 of the limit leg: the stop leg is cancelled in the same run.
    s.place("C", side="buy", price="110000", quantity="0.05")
    settle(
        s, seller="A", buyer="C", price=110_000, lots=5, taker="buy", seller_held=False
    )
    s.check()
    s.assert_order(
        "A",
        limit_id,
        status="partially_filled",
        remaining_quantity="0.15000000",
        fees_paid="5.50",
    )
    s.assert_order("A", stop_id, status="cancelled", reason="oco")
    assert hold_of(limit_id).remaining_amount == 15 * LOT

    # The rest fills: nothing left held.
    s.place("C", side="buy", price="110000", quantity="0.15")
    settle(
        s, seller="A", buyer="C", price=110_000, lots=15, taker="buy", seller_held=False
    )
    s.check()
    s.assert_order("A", limit_id, status="filled", remaining_quantity="0.00000000")
    hold = hold_of(stop_id)
    assert (hold.remaining_amount, hold.posted_amount, hold.status) == (
        0,
        20 * LOT,
        Hold.Status.POSTED,
    )


def test_sell_oco_stop_triggers_and_cancels_the_limit_leg(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    body = oco(
        s,
        "A",
        side="sell",
        quantity="0.2",
        price="110000",
        stop_price="95000",
        stop_limit_price="94000",
    )
    limit_id, stop_id = (order["id"] for order in body["orders"])
    assert body["orders"][1]["type"] == "stop_limit"
    assert body["orders"][1]["price"] == "94000.00"
    s.move("A", "BTC", -20 * LOT, 20 * LOT)
    # D bids 0.1 at 95,000 and 0.3 at 94,500.
    s.place("D", side="buy", price="95000", quantity="0.1")
    s.place("D", side="buy", price="94500", quantity="0.3")
    s.move("D", "USD", -950_000 - 2_835_000, 950_000 + 2_835_000)
    s.check()

    # B sells 0.1 at 95,000: the last price reaches the stop, which triggers;
    # the limit leg is cancelled (oco) and the stop limit at 94,000 sells 0.2
    # into D's 94,500 bid.
    s.place("B", side="sell", price="95000", quantity="0.1")
    settle(
        s, seller="B", buyer="D", price=95_000, lots=10, taker="sell", buyer_held=False
    )
    settle(
        s,
        seller="A",
        buyer="D",
        price=94_500,
        lots=20,
        taker="sell",
        seller_held=False,
        buyer_held=False,
    )
    s.check()
    s.assert_order("A", limit_id, status="cancelled", reason="oco")
    s.assert_order(
        "A",
        stop_id,
        status="filled",
        stop_triggered=True,
        average_price="94500.00",
        fees_paid="37.80",
    )
    assert hold_of(stop_id).remaining_amount == 0


def test_buy_oco_holds_the_larger_leg_and_releases_to_the_survivor(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    # Limit leg 0.1 at 90,000 (900,000 cents); stop limit at 105,000 / 106,000
    # (1,060,000 cents): one hold of the larger.
    body = oco(
        s,
        "C",
        side="buy",
        quantity="0.1",
        price="90000",
        stop_price="105000",
        stop_limit_price="106000",
    )
    limit_id, stop_id = (order["id"] for order in body["orders"])
    s.move("C", "USD", -1_060_000, 1_060_000)
    s.check()
    assert hold_of(limit_id).remaining_amount == 1_060_000

    # A sells 0.04 into the limit leg: the stop leg goes; the hold keeps what
    # the 0.06 left at 90,000 needs (540,000) and releases the rest.
    s.place("A", side="sell", price="90000", quantity="0.04")
    settle(
        s, seller="A", buyer="C", price=90_000, lots=4, taker="sell", buyer_held=False
    )
    s.move("C", "USD", 1_060_000 - 360_000 - 540_000, -(1_060_000 - 360_000 - 540_000))
    s.check()
    s.assert_order("C", stop_id, status="cancelled", reason="oco")
    s.assert_order("C", limit_id, status="partially_filled")
    assert hold_of(limit_id).remaining_amount == 540_000

    s.place("A", side="sell", price="90000", quantity="0.06")
    settle(
        s, seller="A", buyer="C", price=90_000, lots=6, taker="sell", buyer_held=False
    )
    s.check()
    s.assert_order("C", limit_id, status="filled", fees_paid="0.00010000")


def test_cancelling_one_leg_cancels_both_and_releases_the_hold(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    body = oco(s, "C", side="buy", quantity="0.1", price="90000", stop_price="105000")
    limit_id, stop_id = (order["id"] for order in body["orders"])
    # the stop market leg counts at its bound: 5% above its stop (no band)
    bound = 105_000 * 105 // 100 * 10
    s.move("C", "USD", -bound, bound)
    s.check()
    s.call("C", "delete", f"/api/v1/orders/{stop_id}", status=202)
    s.move("C", "USD", bound, -bound)
    s.check()
    s.assert_order("C", stop_id, status="cancelled", reason="user")
    s.assert_order("C", limit_id, status="cancelled", reason="oco")


def test_an_oco_leg_is_not_amendable(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    body = oco(s, "A", side="sell", quantity="0.1", price="110000", stop_price="95000")
    limit_id = body["oco_id"]
    response = s.call(
        "A", "patch", f"/api/v1/orders/{limit_id}", {"price": "111000"}, status=409
    )
    assert response.json()["error"]["code"] == "order_not_amendable"


def test_an_oco_retry_with_its_client_order_id_returns_the_first_pair(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    pair = {
        "side": "sell",
        "quantity": "0.1",
        "price": "110000",
        "stop_price": "95000",
        "client_order_id": "tp-1",
    }
    first = oco(s, "A", **pair)
    again = oco(s, "A", status=200, **pair)
    assert again["oco_id"] == first["oco_id"]
    assert [o["id"] for o in again["orders"]] == [o["id"] for o in first["orders"]]
    oco(s, "A", status=409, **{**pair, "price": "111000"})
    s.move("A", "BTC", -10 * LOT, 10 * LOT)
    s.check()


# --- trailing stops ---------------------------------------------------------------


def test_trailing_sell_stop_follows_the_price_up_then_triggers(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    stop_id = s.place(
        "A", side="sell", type="stop_market", quantity="0.1", trailing_amount="2000"
    )
    s.move("A", "BTC", -10 * LOT, 10 * LOT)
    s.check()
    s.assert_order(
        "A",
        stop_id,
        status="open",
        stop_price="98000.00",
        trailing_amount="2000.00",
        trailing_bps=None,
    )
    s.place("D", side="buy", price="100500", quantity="0.2")
    s.move("D", "USD", -2_010_000, 2_010_000)

    trade(s, seller="B", buyer="C", price=103_000, lots=5, taker="sell")
    s.check()
    s.assert_order("A", stop_id, status="open", stop_price="101000.00")
    trade(s, seller="B", buyer="C", price=101_500, lots=5, taker="sell")
    s.assert_order("A", stop_id, status="open", stop_price="101000.00")

    # A trade at 101,000 triggers it: it sells 0.1 into D's bid at 100,500.
    trade(s, seller="B", buyer="C", price=101_000, lots=5, taker="sell")
    settle(
        s,
        seller="A",
        buyer="D",
        price=100_500,
        lots=10,
        taker="sell",
        seller_held=False,
        buyer_held=False,
    )
    s.check()
    s.assert_order(
        "A", stop_id, status="filled", stop_triggered=True, average_price="100500.00"
    )


def test_trailing_buy_stop_by_bps(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    # 1% of 100,000 above it: stop 101,000; a stop limit buy at 104,000.
    stop_id = s.place(
        "D",
        side="buy",
        type="stop_limit",
        quantity="0.1",
        price="104000",
        trailing_bps=100,
    )
    s.move("D", "USD", -1_040_000, 1_040_000)
    s.assert_order(
        "D", stop_id, status="open", stop_price="101000.00", trailing_bps=100
    )
    s.place("A", side="sell", price="99500", quantity="0.1")
    s.move("A", "BTC", -10 * LOT, 10 * LOT)
    s.check()

    # The price falls to 98,000: the stop follows to 98,000 + 980 = 98,980.
    trade(s, seller="B", buyer="C", price=98_000, lots=5, taker="sell")
    s.check()
    s.assert_order("D", stop_id, status="open", stop_price="98980.00")

    # 99,000 is at or above it: it triggers and buys A's 0.1 at 99,500.
    trade(s, seller="B", buyer="C", price=99_000, lots=5, taker="buy")
    settle(
        s,
        seller="A",
        buyer="D",
        price=99_500,
        lots=10,
        taker="buy",
        seller_held=False,
        buyer_held=False,
    )
    s.move("D", "USD", 1_040_000 - 995_000, -(1_040_000 - 995_000))
    s.check()
    s.assert_order("D", stop_id, status="filled", average_price="99500.00")


# --- good till date ---------------------------------------------------------------


def _gtd_time(seconds: int):
    return (timezone.now() + timedelta(seconds=seconds)).replace(microsecond=0)


def test_gtd_order_expires_exactly_at_its_second(s, btc_usd):
    expire_at = _gtd_time(60)
    order_id = s.place(
        "C",
        side="buy",
        price="90000",
        quantity="0.1",
        time_in_force="gtd",
        expire_at=expire_at.isoformat(),
    )
    s.move("C", "USD", -900_000, 900_000)
    s.check()
    s.assert_order(
        "C",
        order_id,
        status="open",
        time_in_force="gtd",
        expire_at=expire_at.isoformat().replace("+00:00", "Z"),
    )

    matching_run(instrument_id=btc_usd.pk, now=expire_at - timedelta(seconds=1))
    s.assert_order("C", order_id, status="open")
    s.check()

    matching_run(instrument_id=btc_usd.pk, now=expire_at)
    s.move("C", "USD", 900_000, -900_000)
    s.check()
    s.assert_order(
        "C", order_id, status="expired", reason="gtd", remaining_quantity="0.00000000"
    )
    assert hold_of(order_id).status == Hold.Status.VOIDED


def test_gtd_oco_pair_expires_together(s, btc_usd):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    expire_at = _gtd_time(60)
    body = oco(
        s,
        "A",
        side="sell",
        quantity="0.1",
        price="110000",
        trailing_bps=500,
        time_in_force="gtd",
        expire_at=expire_at.isoformat(),
    )
    limit_id, stop_id = (order["id"] for order in body["orders"])
    s.move("A", "BTC", -10 * LOT, 10 * LOT)
    s.check()
    s.assert_order("A", stop_id, status="open", stop_price="95000.00")
    matching_run(instrument_id=btc_usd.pk, now=expire_at)
    s.move("A", "BTC", 10 * LOT, -10 * LOT)
    s.check()
    s.assert_order("A", limit_id, status="expired", reason="gtd")
    s.assert_order("A", stop_id, status="expired", reason="gtd")


# --- validation -------------------------------------------------------------------


def _refused(s, url, body, field, status=400):
    response = s.call("A", "post", url, {"symbol": "BTC-USD", **body}, status=status)
    error = response.json()["error"]
    assert field in error["details"], error
    return error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_in_force": "gtd"}, "expire_at"),
        ({"time_in_force": "gtd", "expire_at": "2020-01-01T00:00:00Z"}, "expire_at"),
        ({"time_in_force": "gtd", "expire_at": "2099-01-01T00:00:00Z"}, "expire_at"),
        ({"time_in_force": "gtd", "expire_at": "2030-01-01T00:00:00"}, "expire_at"),
        ({"time_in_force": "gtd", "expire_at": "tomorrow"}, "expire_at"),
        ({"expire_at": "2030-01-01T00:00:00Z"}, "expire_at"),
        ({"trailing_amount": "100"}, "trailing_amount"),
        (
            {
                "type": "stop_market",
                "price": None,
                "trailing_amount": "100",
                "stop_price": "90000",
            },
            "stop_price",
        ),
        (
            {
                "type": "stop_market",
                "price": None,
                "trailing_amount": "100",
                "trailing_bps": 5,
            },
            "trailing_bps",
        ),
        ({"type": "stop_market", "price": None, "trailing_bps": 0}, "trailing_bps"),
        (
            {"type": "stop_market", "price": None, "trailing_bps": 10_000},
            "trailing_bps",
        ),
        (
            {"type": "stop_market", "price": None, "trailing_amount": "0"},
            "trailing_amount",
        ),
        (
            {"type": "stop_market", "price": None, "trailing_amount": "0.5"},
            "trailing_amount",
        ),
        (
            {"type": "stop_market", "price": None, "trailing_amount": "200000"},
            "trailing_amount",
        ),
        ({"type": "stop_market", "price": None}, "stop_price"),
    ],
)
def test_bad_order_type_fields_are_400s_naming_the_field(s, body, field):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    _refused(
        s,
        "/api/v1/orders",
        {"side": "sell", "price": "100000", "quantity": "0.1", **body},
        field,
    )
    s.check()  # nothing held


def test_a_trailing_stop_needs_a_last_price(s):
    error = _refused(
        s,
        "/api/v1/orders",
        {"side": "sell", "type": "stop_market", "quantity": "0.1", "trailing_bps": 100},
        "trailing_bps",
    )
    assert "last trade" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"side": "sell", "price": "99000", "stop_price": "95000"}, "price"),
        ({"side": "sell", "price": "110000", "stop_price": "100000"}, "stop_price"),
        ({"side": "buy", "price": "100000", "stop_price": "105000"}, "price"),
        ({"side": "buy", "price": "90000", "stop_price": "99000"}, "stop_price"),
        ({"side": "sell", "price": "110000"}, "stop_price"),
        (
            {
                "side": "sell",
                "price": "110000",
                "stop_price": "95000",
                "time_in_force": "ioc",
            },
            "time_in_force",
        ),
        (
            {
                "side": "sell",
                "price": "110000",
                "stop_price": "95000",
                "stop_limit_price": "94000.5",
            },
            "stop_limit_price",
        ),
        (
            {
                "side": "sell",
                "price": "110000",
                "stop_price": "95000",
                "time_in_force": "gtd",
            },
            "expire_at",
        ),
        (
            {
                "side": "sell",
                "price": "110000",
                "stop_price": "95000",
                "trailing_bps": 10,
            },
            "stop_price",
        ),
    ],
)
def test_bad_oco_fields_are_400s_naming_the_field(s, body, field):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    _refused(s, "/api/v1/orders/oco", {"quantity": "0.1", **body}, field)
    s.check()


def test_an_oco_pair_beyond_the_funds_is_422(s):
    trade(s, seller="B", buyer="D", price=100_000, lots=10, taker="buy")
    error = _refused(
        s,
        "/api/v1/orders/oco",
        {"side": "sell", "quantity": "3", "price": "110000", "stop_price": "95000"},
        "amount",
        status=422,
    )
    assert error["code"] == "insufficient_funds"
    s.check()


def test_the_sweeper_expires_a_gtd_order_on_a_quiet_book(s, btc_usd):
    expire_at = _gtd_time(60)
    order_id = s.place(
        "C",
        side="buy",
        price="90000",
        quantity="0.1",
        time_in_force="gtd",
        expire_at=expire_at.isoformat(),
    )
    assert matching_sweep() == []  # nothing due, nothing waiting
    with time_machine.travel(expire_at + timedelta(milliseconds=1), tick=False):
        assert matching_sweep() == [btc_usd.pk]  # (eager: the run happens here)
    s.check()
    s.assert_order("C", order_id, status="expired", reason="gtd")


def test_a_gtd_order_gets_a_run_at_its_time_within_the_horizon(s, btc_usd):
    near, far = _gtd_time(60), _gtd_time(3 * 3600)
    with mock.patch("trading.tasks.match_instrument.apply_async") as send:
        for expire_at in (near, far):
            s.place(
                "C",
                side="buy",
                price="90000",
                quantity="0.1",
                time_in_force="gtd",
                expire_at=expire_at.isoformat(),
            )
    # (`delay`, the placement's own run, comes this way too: no eta.) The far
    # one is left to the sweeper: a broker redelivers long ETAs.
    timed = [call for call in send.call_args_list if call.kwargs.get("eta")]
    assert [call.kwargs["eta"] for call in timed] == [near + timedelta(milliseconds=50)]
    assert timed[0].args == ((btc_usd.pk,),)
