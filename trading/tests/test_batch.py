"""Batch placement and batch cancel (`order_place_batch`, `order_cancel_batch`).

BTC-USD (see conftest): prices in whole dollars are ticks, quantities in 0.01 BTC
are lots, one tick x one lot is one cent, so a buy's hold in cents is price x lots.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from config.errors import ApplicationError, http_status
from marketdata.models import UserEvent
from trading.models import Instrument, Order, OrderCommand, OrderStatusChange, Trade
from trading.services import (
    instrument_create,
    instrument_set_status,
    instrument_update,
    order_cancel,
    order_cancel_batch,
    order_place,
    order_place_batch,
)
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import assert_ledger_ok, balances, lost_messages, match
from wallet.models import Asset, Entry, Hold, Journal

pytestmark = pytest.mark.django_db


def limit(side: str, price: str, quantity: str, **extra) -> dict:
    body = {"symbol": "BTC-USD", "side": side, "price": price, "quantity": quantity}
    return body | extra


def outcome(result) -> tuple:
    """(201, order) / (200, order) / (status, code, fields named)."""
    if result.error is not None:
        error = result.error
        return (http_status(error), str(error.code), sorted(error.details))
    return (201 if result.created else 200, result.order.pk)


def rows(user) -> dict[str, int]:
    """What placements write, counted for one user."""
    return {
        "orders": Order.objects.filter(user=user).count(),
        "holds": Hold.objects.filter(user=user).count(),
        "journals": Journal.objects.filter(
            kind="hold", entries__account__owner=user
        ).distinct().count(),
        "entries": Entry.objects.filter(account__owner=user, journal__kind="hold")
        .count(),
        "status_rows": OrderStatusChange.objects.filter(order__user=user).count(),
        "commands": OrderCommand.objects.filter(order__user=user).count(),
        "balance_events": UserEvent.objects.filter(user=user, type="balance").count(),
    }  # fmt: skip


def trade_at(instrument, make_trader, price: str) -> None:
    """One trade of 0.01 at `price` between two other users: the last price."""
    seller = make_trader(f"s{price}@example.com", btc=BTC)
    buyer = make_trader(f"b{price}@example.com", usd=100_000 * USD)
    order_place(user=seller, symbol=instrument.symbol, side="sell", price=price,
                quantity="0.01")  # fmt: skip
    order_place(user=buyer, symbol=instrument.symbol, side="buy", price=price,
                quantity="0.01")  # fmt: skip
    match(instrument)


def halted_eth_usd(usd: Asset) -> Instrument:
    eth, _ = Asset.objects.get_or_create(
        code="ETH", defaults={"name": "Ether", "decimals": 8, "kind": "crypto"}
    )
    instrument = instrument_create(
        symbol="ETH-USD", base=eth, quote=usd, tick_size=10, lot_size=10**7
    )
    return instrument_set_status(instrument=instrument, status="halted")


# --- what a batch writes ----------------------------------------------------------


def test_a_mixed_batch_places_the_good_items_and_refuses_each_bad_one(
    btc_usd, make_trader
):
    instrument_update(instrument=btc_usd, price_band_percent=10)
    trade_at(btc_usd, make_trader, "1000")  # band: 900 to 1100
    halted_eth_usd(btc_usd.quote)
    buyer = make_trader("buyer@example.com", usd=10_000 * USD, btc=BTC)
    before = rows(buyer)

    results = order_place_batch(
        user=buyer,
        orders=[
            limit("buy", "1000", "1"),  # 0: holds 1,000.00
            limit("buy", "1000.50", "1"),  # 1: off the tick
            limit("buy", "1000", "0.005"),  # 2: off the lot
            limit("buy", "1000", "1", symbol="NOPE-USD"),  # 3
            limit("buy", "2000", "1"),  # 4: out of the band
            limit("buy", "1000", "20"),  # 5: 20,000.00 > the 9,000.00 left
            limit("sell", "1050", "0.5"),  # 6: holds 0.5 BTC
            {"symbol": "BTC-USD", "side": "buy", "type": "market", "price": "1",
             "quantity": "1"},  # 7: a market order with a price
            {"symbol": "ETH-USD", "side": "buy", "price": "100", "quantity": "1"},
            limit("buy", "900", "2", client_order_id="c1"),  # 9: holds 1,800.00
            limit("buy", "900", "2", client_order_id="c1"),  # 10: the same again
            limit("buy", "901", "2", client_order_id="c1"),  # 11: reused
            {"symbol": "BTC-USD", "side": "buy", "type": "market",
             "quantity": "0.5"},  # 12: 0.5 at the band's top, 1,100: 550.00
            {"symbol": "BTC-USD", "side": "buy", "price": "1", "quantity": "1",
             "colour": "red"},  # 13: not an order field
        ],
    )  # fmt: skip

    created = [results[i].order for i in (0, 6, 9, 12)]
    assert [outcome(result) for result in results] == [
        (201, created[0].pk),
        (400, "invalid_tick", ["price"]),
        (400, "invalid_lot", ["quantity"]),
        (404, "unknown_symbol", ["symbol"]),
        (400, "price_out_of_band", ["price"]),
        (422, "insufficient_funds", ["amount", "asset"]),
        (201, created[1].pk),
        (400, "invalid_order", ["price"]),
        (409, "instrument_not_trading", ["symbol"]),
        (201, created[2].pk),
        (200, created[2].pk),  # the earlier item's order
        (409, "client_order_id_reused", ["client_order_id"]),
        (201, created[3].pk),
        (400, "invalid_order", ["colour"]),
    ]
    assert results[10].order is created[2]
    assert results[4].error.message == (
        "price: must be within 10% of the last trade: 900.00 to 1100.00."
    )
    assert results[5].error.message == (
        "amount: insufficient funds, 9000.00 USD available but 20000.00 needed."
    )
    # ids drawn in item order, holds exact to the unit
    assert [order.pk for order in created] == sorted(order.pk for order in created)
    stored = {o.pk: o for o in Order.objects.select_related("hold").filter(user=buyer)}
    assert [
        (
            stored[o.pk].hold.asset.code,
            stored[o.pk].hold.amount,
            stored[o.pk].hold.reference_id,
            stored[o.pk].quote_limit,
            stored[o.pk].status,
        )
        for o in created
    ] == [
        ("USD", 100_000, str(created[0].pk), None, "pending"),
        ("BTC", 50_000_000, str(created[1].pk), None, "pending"),
        ("USD", 180_000, str(created[2].pk), None, "pending"),
        ("USD", 55_000, str(created[3].pk), 55_000, "pending"),
    ]
    # the rest of the balance stays available (the market buy's hold is bounded)
    assert balances(buyer) == {
        "USD": (665_000, 335_000),
        "BTC": (BTC // 2, BTC // 2),
    }
    # the market buy's entries: the held leg, then available, balances after each
    journal = Journal.objects.get(kind="hold", reference=f"order:{created[3].pk}")
    assert journal.metadata == {"hold": stored[created[3].pk].hold_id,
                                "symbol": "BTC-USD"}  # fmt: skip
    assert list(
        journal.entries.order_by("pk").values_list(
            "account__kind", "amount", "balance_after"
        )
    ) == [("held", 55_000, 335_000), ("available", -55_000, 665_000)]
    # nothing for the refused items; one balance event per asset
    after = rows(buyer)
    assert {name: after[name] - before[name] for name in after} == {
        "orders": 4,
        "holds": 4,
        "journals": 4,
        "entries": 8,
        "status_rows": 4,
        "commands": 4,
        "balance_events": 2,
    }
    # the commands in item order: the matcher's arrival order
    commands = OrderCommand.objects.filter(order__user=buyer).order_by("pk")
    assert list(commands.values_list("order_id", "kind")) == [
        (order.pk, "place") for order in created
    ]
    assert_ledger_ok()

    match(btc_usd)
    # the market buy meets only the buyer's own ask: self-trade, expired, released
    statuses = [(o.status, o.reason) for o in Order.objects.filter(user=buyer)
                .order_by("pk")]  # fmt: skip
    assert statuses == [("open", ""), ("open", ""), ("open", ""),
                        ("expired", "stp")]  # fmt: skip
    assert balances(buyer) == {"USD": (720_000, 280_000),
                               "BTC": (BTC // 2, BTC // 2)}  # fmt: skip
    assert_ledger_ok()


def test_items_that_together_exceed_the_balance_are_taken_greedily_in_order(
    btc_usd, make_trader
):
    buyer = make_trader("buyer@example.com", usd=2_500 * USD)
    results = order_place_batch(
        user=buyer,
        orders=[
            limit("buy", "1000", "1"),  # 1,000.00: fits, 1,500.00 left
            limit("buy", "1000", "2"),  # 2,000.00: does not
            limit("buy", "500", "1"),  # 500.00: fits, 1,000.00 left
            limit("buy", "1000", "1"),  # 1,000.00: fits, nothing left
            limit("buy", "100", "0.01"),  # 1.00: does not
        ],
    )
    assert [r.error.code if r.error else r.order.hold.amount for r in results] == [
        100_000,
        "insufficient_funds",
        50_000,
        100_000,
        "insufficient_funds",
    ]
    assert results[1].error.message == (
        "amount: insufficient funds, 1500.00 USD available but 2000.00 needed."
    )
    assert results[4].error.message == (
        "amount: insufficient funds, 0.00 USD available but 1.00 needed."
    )
    assert balances(buyer) == {"USD": (0, 2_500 * USD)}
    assert Order.objects.filter(user=buyer).count() == 3
    assert_ledger_ok()


def test_a_market_buy_without_quote_quantity_holds_what_is_left_at_its_turn(
    btc_usd, make_trader
):
    seller = make_trader("seller@example.com", btc=BTC)
    order_place(user=seller, symbol="BTC-USD", side="sell", price="1000",
                quantity="0.5")  # fmt: skip
    match(btc_usd)
    buyer = make_trader("buyer@example.com", usd=3_000 * USD)
    market = {"symbol": "BTC-USD", "side": "buy", "type": "market"}
    results = order_place_batch(
        user=buyer,
        orders=[
            limit("buy", "900", "1"),  # 900.00
            market | {"quantity": "1"},  # the 2,100.00 left
            limit("buy", "100", "0.01"),  # nothing left
            market | {"quantity": "0.1"},  # nothing left
            market | {"quote_quantity": "100.00"},  # nothing left
        ],
    )
    assert [outcome(r)[:2] for r in results] == [
        (201, results[0].order.pk),
        (201, results[1].order.pk),
        (422, "insufficient_funds"),
        (422, "insufficient_funds"),
        (422, "insufficient_funds"),
    ]
    assert (results[1].order.hold.amount, results[1].order.quote_limit) == (
        210_000,
        210_000,
    )
    assert results[3].error.message == (
        "quote_quantity: not enough USD to buy one lot at any price."
    )  # order_place's words for a market buy with nothing to spend
    assert results[4].error.message == (
        "amount: insufficient funds, 0.00 USD available but 100.00 needed."
    )
    assert balances(buyer) == {"USD": (0, 3_000 * USD)}

    match(btc_usd)  # buys 0.5 at 1,000.00 for 500.00; the rest comes back
    assert Order.objects.get(pk=results[1].order.pk).status == "expired"
    assert balances(buyer) == {
        "USD": (2_100 * USD - 50_000, 900 * USD),
        "BTC": (BTC // 2 - 100_000, 0),  # taker fee 20 bps in BTC
    }
    assert_ledger_ok()


def test_rules_and_status_changed_elsewhere_apply_to_the_next_batch(
    btc_usd, make_trader
):
    """The lock statement reads every named instrument's rules and status: a copy
    found stale is read again and its items judged again."""
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    order_place_batch(user=buyer, orders=[limit("buy", "100", "0.01")])  # warm
    # elsewhere (another process, the admin): new steps (2.00 USD, 0.005 BTC: one
    # tick x one lot is still one cent) and a minimum of 4.00 USD
    Instrument.objects.filter(pk=btc_usd.pk).update(
        tick_size=200, lot_size=500_000, min_notional=4 * USD
    )
    results = order_place_batch(
        user=buyer,
        orders=[
            limit("buy", "1000", "0.005"),  # off the old lot, on the new one
            limit("buy", "100", "0.02"),  # 2.00: below the new minimum
            limit("buy", "1001", "0.01"),  # on the old tick, off the new one
        ],
    )
    assert [outcome(r)[:2] for r in results] == [
        (201, results[0].order.pk),
        (400, "below_min_notional"),
        (400, "invalid_tick"),
    ]
    stored = Order.objects.select_related("hold").get(pk=results[0].order.pk)
    assert (stored.price_ticks, stored.quantity_lots, stored.hold.amount) == (
        500,
        1,
        500,
    )
    Instrument.objects.filter(pk=btc_usd.pk).update(status="halted")
    (halted,) = order_place_batch(user=buyer, orders=[limit("buy", "1000", "0.01")])
    assert halted.error.code == "instrument_not_trading"
    assert Order.objects.filter(user=buyer).count() == 2
    assert_ledger_ok()


def test_one_matching_job_per_instrument_after_commit(
    btc_usd, make_trader, django_capture_on_commit_callbacks
):
    from unittest import mock

    xbt_usd = instrument_create(
        symbol="XBT-USD", base=btc_usd.base, quote=btc_usd.quote, tick_size=100,
        lot_size=1_000_000,
    )  # fmt: skip
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    xbt = limit("buy", "100", "0.01", symbol="XBT-USD")
    with mock.patch("trading.tasks.match_instrument.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            placed = order_place_batch(
                user=buyer,
                orders=[limit("buy", "100", "0.01"), xbt, xbt,
                        limit("buy", "101", "0.01"), xbt | {"symbol": "NOPE-USD"}],
            )  # fmt: skip
    schedules = [c for c in callbacks if c.__qualname__.startswith("matching_sch")]
    assert len(schedules) == 2  # and one for the balance events
    assert sorted(call.args for call in delay.call_args_list) == sorted(
        [(btc_usd.pk,), (xbt_usd.pk,)]
    )
    with django_capture_on_commit_callbacks() as callbacks:
        order_cancel_batch(
            user=buyer, order_ids=[r.order.pk for r in placed if r.order]
        )
    assert [c.__qualname__ for c in callbacks] == [
        "matching_schedule.<locals>.send"
    ] * 2
    with django_capture_on_commit_callbacks() as callbacks:  # nothing accepted
        order_place_batch(user=buyer, orders=[limit("buy", "100", "1000")])
    assert callbacks == []


# --- idempotency ------------------------------------------------------------------


def test_a_retried_batch_returns_the_same_orders_and_writes_nothing_more(
    btc_usd, make_trader
):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    batch = [
        limit("buy", "900", "1", client_order_id="a"),
        limit("buy", "1000", "100", client_order_id="b"),  # does not fit
        limit("buy", "800", "1", client_order_id="c"),
        limit("buy", "700", "1"),  # no client id: a new order each time
    ]
    first = order_place_batch(user=buyer, orders=batch)
    written = rows(buyer)
    again = order_place_batch(user=buyer, orders=batch)
    assert [outcome(r) for r in again] == [
        (200, first[0].order.pk),
        (422, "insufficient_funds", ["amount", "asset"]),
        (200, first[2].order.pk),
        (201, again[3].order.pk),
    ]
    assert again[3].order.pk != first[3].order.pk
    after = rows(buyer)
    assert after["orders"] == written["orders"] + 1
    assert after["commands"] == written["commands"] + 1
    # a replay comes back as stored, ready to show
    assert again[0].order.instrument.symbol == "BTC-USD"
    assert again[0].order.hold_id == first[0].order.hold.pk
    assert_ledger_ok()


def test_a_client_order_id_twice_in_one_batch(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=1_000 * USD)
    results = order_place_batch(
        user=buyer,
        orders=[
            limit("buy", "1000", "2", client_order_id="x"),  # does not fit
            limit("buy", "500", "1", client_order_id="x"),  # so this is new
            limit("buy", "500", "1", client_order_id="x"),  # a replay of it
            limit("buy", "400", "1", client_order_id="x"),  # another body: 409
            limit("buy", "100", "1", client_order_id="y"),
        ],
    )
    assert [outcome(r) for r in results] == [
        (422, "insufficient_funds", ["amount", "asset"]),
        (201, results[1].order.pk),
        (200, results[1].order.pk),
        (409, "client_order_id_reused", ["client_order_id"]),
        (201, results[4].order.pk),
    ]
    assert list(
        Order.objects.filter(user=buyer)
        .order_by("pk")
        .values_list("client_order_id", "price_ticks")
    ) == [("x", 500), ("y", 100)]
    assert balances(buyer) == {"USD": (400 * USD, 600 * USD)}
    assert_ledger_ok()


# --- limits -----------------------------------------------------------------------


def test_the_open_order_limit_counts_the_items_accepted_before(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=2_000 * USD)
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="100",
                quantity="1")  # fmt: skip
    with override_settings(TRADING_MAX_OPEN_ORDERS=3):
        results = order_place_batch(
            user=buyer,
            orders=[
                limit("buy", "100", "1"),  # the 2nd open order
                limit("buy", "5000", "1"),  # does not fit: not counted
                limit("buy", "100", "1"),  # the 3rd
                limit("buy", "100", "1"),  # a 4th: refused
            ],
        )
    assert [outcome(r)[:2] for r in results] == [
        (201, results[0].order.pk),
        (422, "insufficient_funds"),
        (201, results[2].order.pk),
        (422, "too_many_open_orders"),
    ]
    assert results[3].error.message == "You have 3 open orders, the maximum."
    assert Order.objects.filter(user=buyer).count() == 3


def test_the_batch_size_and_kyc_refuse_the_whole_request(btc_usd, make_trader):
    from accounts.testing import make_user

    buyer = make_trader("buyer@example.com", usd=1_000 * USD)
    for orders, message in (
        ([], "orders: send a list of 1 to 3 items."),
        ([limit("buy", "1", "1")] * 4, "orders: at most 3 per request, not 4."),
        ("nope", "orders: send a list of 1 to 3 items."),
    ):
        with override_settings(TRADING_BATCH_MAX_ORDERS=3):
            with pytest.raises(ApplicationError) as refused:
                order_place_batch(user=buyer, orders=orders)
        assert (refused.value.code, refused.value.message) == (
            "invalid_order",
            message,
        )
        assert list(refused.value.details) == ["orders"]
    stranger = make_user(email="new@example.com")
    with pytest.raises(ApplicationError) as refused:
        order_place_batch(user=stranger, orders=[limit("buy", "1", "x")])
    assert (refused.value.code, http_status(refused.value)) == ("kyc_required", 403)
    assert not Order.objects.exists()


# --- against the single path ------------------------------------------------------


class Stream:
    """A seeded stream of batches for one world of users: limits (GTC, IOC, FOK,
    post-only), market orders by quantity, by quote and by the whole balance,
    self-trade modes, client order ids (new, replayed, reused with another body),
    a few malformed items; balances tight enough that funds run out."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.cids: list[tuple[str, dict]] = []

    def item(self) -> dict:
        rng = self.rng
        if self.cids and rng.random() < 0.08:
            cid, body = rng.choice(self.cids)
            if rng.random() < 0.5:
                return dict(body)  # the same body: a replay
            return body | {"quantity": f"{rng.randint(1, 9) / 100:.2f}"}
        side = rng.choice(("buy", "sell"))
        body = {"side": side}
        roll = rng.random()
        if roll < 0.22:
            body["type"] = "market"
            if side == "buy" and rng.random() < 0.35:
                dollars, cents = rng.randint(50, 4_000), rng.randint(0, 99)
                body["quote_quantity"] = f"{dollars}.{cents:02d}"
            elif side == "buy" and rng.random() < 0.1:
                body["quantity"] = "0.05"  # holds the whole balance left
            else:
                body["quantity"] = f"{rng.randint(1, 300) / 100:.2f}"
        else:
            skew = -2 if side == "buy" else 2
            body["price"] = str(1000 + skew + rng.randint(-6, 6))
            if rng.random() < 0.03:
                body["price"] += ".5"  # off the tick
            body["quantity"] = f"{rng.randint(1, 400) / 100:.2f}"
            kind = rng.random()
            if kind < 0.12:
                body["time_in_force"] = "ioc"
            elif kind < 0.2:
                body["time_in_force"] = "fok"
            elif kind < 0.3:
                body["post_only"] = True
        if rng.random() < 0.15:
            body["stp"] = rng.choice(("expire_maker", "expire_both"))
        if rng.random() < 0.3:
            cid = f"c{len(self.cids)}"
            body["client_order_id"] = cid
            self.cids.append((cid, dict(body)))
        return body

    def batch(self) -> tuple[int, list[dict]]:
        return self.rng.randrange(3), [
            self.item() for _ in range(self.rng.randint(1, 8))
        ]


def test_a_batch_trades_as_the_same_orders_placed_one_by_one(btc_usd, make_trader):
    """Two worlds with the same rules and the same funds: world A sends each batch
    through `order_place_batch`, world B sends the same items one by one through
    `order_place`; each runs its matcher after each batch. Every item must end the
    same, every trade must print the same (price, quantity, maker, taker, side,
    fees), and every balance must be the same."""
    xbt_usd = instrument_create(
        symbol="XBT-USD", base=btc_usd.base, quote=btc_usd.quote, tick_size=100,
        lot_size=1_000_000, maker_fee_bps=10, taker_fee_bps=20, price_band_percent=0,
    )  # fmt: skip
    world_a = [make_trader(f"a{i}@example.com", usd=12_000 * USD, btc=8 * BTC)
               for i in range(3)]  # fmt: skip
    world_b = [make_trader(f"b{i}@example.com", usd=12_000 * USD, btc=8 * BTC)
               for i in range(3)]  # fmt: skip
    stream = Stream(seed=7)
    index_a: dict[int, int] = {}  # order id -> item number
    index_b: dict[int, int] = {}
    ends_a, ends_b = [], []
    number = 0
    for _ in range(40):
        who, items = stream.batch()
        results = order_place_batch(
            user=world_a[who], orders=[{"symbol": "BTC-USD", **i} for i in items]
        )
        for offset, result in enumerate(results):
            if result.error:
                ends_a.append((result.error.code, result.error.message))
            else:
                index_a.setdefault(result.order.pk, number + offset)
                ends_a.append((result.created, index_a[result.order.pk]))
        for offset, item in enumerate(items):
            try:
                order, created = order_place(
                    user=world_b[who], symbol="XBT-USD", **item
                )
            except ApplicationError as error:
                ends_b.append((error.code, error.message))
            else:
                index_b.setdefault(order.pk, number + offset)
                ends_b.append((created, index_b[order.pk]))
        number += len(items)
        match(btc_usd)
        match(xbt_usd)

    assert ends_a == ends_b
    codes = {end[0] for end in ends_a}
    assert {True, False, "insufficient_funds", "client_order_id_reused",
            "invalid_tick"} <= codes  # fmt: skip

    def trades(instrument, index) -> list[tuple]:
        return [
            (t.seq, t.price_ticks, t.quantity_lots, t.quote_amount,
             index[t.maker_order_id], index[t.taker_order_id], t.taker_side,
             t.buyer_fee, t.seller_fee)
            for t in Trade.objects.filter(instrument=instrument).order_by("seq")
        ]  # fmt: skip

    printed = trades(btc_usd, index_a)
    assert len(printed) > 30
    assert printed == trades(xbt_usd, index_b)

    def orders(instrument, index) -> dict:
        return {
            index[o.pk]: (o.status, o.reason, o.filled_lots, o.open_lots,
                          o.filled_quote, o.fees_paid, o.quote_limit,
                          cast(Hold, o.hold).amount,
                          cast(Hold, o.hold).remaining_amount)
            for o in Order.objects.filter(instrument=instrument).select_related("hold")
        }  # fmt: skip

    assert orders(btc_usd, index_a) == orders(xbt_usd, index_b)
    for a, b in zip(world_a, world_b, strict=True):
        assert balances(a) == balances(b)
    assert_ledger_ok()


# --- statements -------------------------------------------------------------------


def _placed_with_queries(user, count: int) -> tuple[list, list[str]]:
    orders = [
        limit("buy", str(100 + n), "0.01", client_order_id=f"{user.pk}-{count}-{n}")
        for n in range(count)
    ]
    with lost_messages(), CaptureQueriesContext(connection) as queries:
        results = order_place_batch(user=user, orders=orders)
    assert all(result.created for result in results)
    return results, [query["sql"] for query in queries]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_of_one_and_of_forty_cost_the_same_statements(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD, btc=BTC)
    _placed_with_queries(buyer, 2)  # warm: accounts made, assets read
    _, one = _placed_with_queries(buyer, 1)
    _, forty = _placed_with_queries(buyer, 40)
    tables = [
        "BEGIN",
        "FROM accounts_user u",  # the lock statement
        # open orders, client ids used and the accounts' lock: one statement
        "WITH a AS MATERIALIZED (SELECT id, owner_id, asset_id, kind, balance,",
        "INSERT INTO wallet_hold",  # holds, journals, entries, balances
        # (no balance alerts' statement: the user has none, read just above)
        # orders, status rows, commands and balance events: one statement
        'WITH r0 AS (INSERT INTO "trading_order"',
        "COMMIT",
    ]
    for sqls in (one, forty):
        assert len(sqls) == 6, sqls
        assert [table in sql for table, sql in zip(tables, sqls, strict=True)] == [
            True
        ] * 6
        for table in (
            "trading_orderstatuschange",
            "trading_ordercommand",
            "marketdata_userevent",
        ):
            assert f'INSERT INTO "{table}"' in sqls[4]
    # one order's rows as scalars; forty orders' as arrays (one balance event)
    assert "unnest" not in one[4]
    assert 'INSERT INTO "trading_order"' in forty[4]
    assert forty[4].count("unnest") == 3
    assert Order.objects.filter(user=buyer).count() == 43
    assert_ledger_ok()


# --- concurrency (PostgreSQL) -----------------------------------------------------


def race(count: int, work) -> list:
    """Run work(i) in `count` threads released together; results in order."""
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_and_single_orders_reserve_exactly_what_fits(
    btc_usd, make_trader
):
    user = make_trader("racer@example.com", usd=24 * 1_000 * USD + 999_99)
    order = limit("buy", "1000", "1")  # holds 1,000.00: 24 fit

    def place(i):
        if i < 5:  # five batches of four
            results = order_place_batch(user=user, orders=[order] * 4)
            return [r.error.code if r.error else "ok" for r in results]
        try:  # and seven single orders
            order_place(user=user, **order)
        except ApplicationError as error:
            return [error.code]
        return ["ok"]

    results = race(12, place)
    ends = [end for result in results for end in result]
    assert sorted(ends) == ["insufficient_funds"] * 3 + ["ok"] * 24
    assert Order.objects.filter(user=user).count() == 24
    assert balances(user) == {"USD": (999_99, 24 * 1_000 * USD)}
    assert OrderCommand.objects.filter(kind="place").count() == 24
    assert_ledger_ok()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_batch_sent_from_ten_threads_makes_one_order_per_client_order_id(
    btc_usd, make_trader
):
    user = make_trader("retry@example.com", usd=10_000 * USD)
    batch = [limit("buy", str(900 + n), "1", client_order_id=f"same-{n}")
             for n in range(5)]  # fmt: skip

    def place(i):
        results = order_place_batch(user=user, orders=batch)
        return [(r.order.pk, r.created) for r in results]

    results = race(10, place)
    orders = list(Order.objects.filter(user=user).order_by("pk"))
    assert [o.client_order_id for o in orders] == [f"same-{n}" for n in range(5)]
    ids = [o.pk for o in orders]
    assert all([pk for pk, _ in result] == ids for result in results)
    # one request created them all, the nine others replayed them
    assert sorted(all(created for _, created in r) for r in results) == [False] * 9 + [
        True
    ]
    assert OrderCommand.objects.count() == 5
    assert balances(user) == {"USD": (10_000 * USD - 451_000, 451_000)}
    assert_ledger_ok()


# --- batch cancel -----------------------------------------------------------------


def test_batch_cancel_mine_not_mine_closed_and_already_pending(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    placed = order_place_batch(
        user=buyer,
        orders=[
            limit("buy", "900", "1"),  # open
            limit("buy", "800", "1"),  # its cancel already pending
            limit("buy", "1000", "0.5"),  # filled below
            limit("buy", "700", "1"),  # open
        ],
    )
    mine = [result.order for result in placed]
    theirs, _ = order_place(user=seller, symbol="BTC-USD", side="sell",
                            price="1000", quantity="0.5")  # fmt: skip
    match(btc_usd)
    order_cancel(user=buyer, order_id=mine[1].pk)
    commands_before = OrderCommand.objects.count()

    with CaptureQueriesContext(connection) as queries:
        results = order_cancel_batch(
            user=buyer,
            order_ids=[mine[3].pk, theirs.pk, 999_999, mine[2].pk, mine[1].pk,
                       mine[0].pk, mine[3].pk],
        )  # fmt: skip
    assert [
        (r.order_id, r.error.code if r.error else r.order.status) for r in results
    ] == [
        (mine[3].pk, "open"),
        (theirs.pk, "order_not_found"),
        (999_999, "order_not_found"),
        (mine[2].pk, "order_not_open"),
        (mine[1].pk, "open"),
        (mine[0].pk, "open"),
        (mine[3].pk, "open"),  # listed twice: one command
    ]
    assert [http_status(r.error) for r in results if r.error] == [404, 404, 409]
    assert results[3].error.message == f"order {mine[2].pk} is already filled."
    new = OrderCommand.objects.order_by("pk")[commands_before:]
    assert [(c.order_id, c.kind) for c in new] == [
        (mine[3].pk, "cancel"),
        (mine[0].pk, "cancel"),
    ]
    inserts = [q["sql"] for q in queries if "INSERT" in q["sql"]]
    assert len(inserts) == 1  # both commands in one statement

    match(btc_usd)
    assert [Order.objects.get(pk=o.pk).status for o in mine] == [
        "cancelled",
        "cancelled",
        "filled",
        "cancelled",
    ]
    assert balances(buyer) == {
        "USD": (10_000 * USD - 50_000, 0),
        "BTC": (BTC // 2 - 50_000, 0),  # maker fee 10 bps
    }
    assert_ledger_ok()


def test_batch_cancel_statements_do_not_grow(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    placed = order_place_batch(
        user=buyer, orders=[limit("buy", str(100 + n), "0.01") for n in range(30)]
    )
    ids = [result.order.pk for result in placed]
    order_cancel_batch(user=buyer, order_ids=ids[:1])  # the instrument's copy read
    counts = []
    for chunk in (ids[1:2], ids[2:30]):
        with CaptureQueriesContext(connection) as queries:
            order_cancel_batch(user=buyer, order_ids=chunk)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert OrderCommand.objects.filter(kind="cancel").count() == 30
