"""Differential: the API + matching job against the bare engine.

A seeded stream of a few hundred requests (limits GTC/IOC/FOK, post-only, market
orders by quantity and by quote, cancels, amends, self-trade modes; four users with
ample funds) goes through the HTTP API. Every request the API accepts is replayed,
in the same order, on a bare `trading.engine.OrderBook`, with the prices and
quantities converted to ticks and lots here (independently of `trading.units`) and
the database's order ids as engine ids. Both must give the same prints (seq, price,
quantity, maker, taker, side), the same outcome for every order, and the same final
book: the engine's snapshot equals the matcher's in-memory book and a rebuild from
the database rows.

Two schedules: the matcher after every request (the embedded mode's path), and in
batches (requests queue up with no worker, then one run applies them all).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import pytest
from django.conf import settings

from accounts.testing import api_client_for
from trading.engine import (
    Accepted,
    Amend,
    Cancel,
    Event,
    OrderBook,
    OrderDone,
    Place,
    Rejected,
)
from trading.engine import Trade as TradeEvent
from trading.holds import market_buy_cap_ticks
from trading.models import Instrument, Order, OrderCommand, Trade
from trading.services import matching
from trading.state import matcher_state
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import assert_ledger_ok, balances, lost_messages, match

pytestmark = pytest.mark.django_db

MID = 1_000  # ticks (USD)


def ticks(price: str) -> int:  # tick = 1.00 USD
    value = Decimal(price)
    assert value == value.to_integral_value()
    return int(value)


def lots(quantity: str) -> int:  # lot = 0.01 BTC
    value = Decimal(quantity) * 100
    assert value == value.to_integral_value()
    return int(value)


def cents(amount: str) -> int:  # one tick x one lot is exactly one cent
    return int(Decimal(amount) * 100)


@dataclass(frozen=True)
class AmendRequest:
    order_id: int
    body: dict


class Run:
    def __init__(self, seed: int, users, capture, batch: int | None):
        self.rng = random.Random(seed)
        self.users = users
        self.clients = [api_client_for(user) for user in users]
        self.capture = capture
        self.batch = batch
        self.engine = OrderBook("BTC-USD")
        self.engine_events: list[Event] = []
        self.queue: list = []  # engine commands not yet applied (batched mode)
        self.amend_rows: list = []  # (engine index, order id) to check results
        self.accepted = 0

    # -- the random stream ------------------------------------------------------

    def request(self) -> tuple[int, str, str, dict | None]:
        """(user index, method, url, body) of the next request."""
        rng = self.rng
        who = rng.randrange(len(self.users))
        user = self.users[who]
        roll = rng.random()
        mine = list(
            Order.objects.filter(
                user=user,
                status__in=Order.OPEN_STATUSES,
                type="limit",
                time_in_force="gtc",
            ).values_list("pk", "price_ticks", "quantity_lots", "filled_lots")
        )
        if roll < 0.12 and mine:
            order_id = rng.choice(mine)[0]
            return who, "delete", f"/api/v1/orders/{order_id}", None
        if roll < 0.26 and mine:
            # limit orders: priced and sized
            order_id, price, quantity, filled = cast(
                tuple[int, int, int, int], rng.choice(mine)
            )
            body: dict = {}
            shape = rng.random()
            if shape < 0.4 and quantity - filled > 1:
                body["quantity"] = self.qty(
                    filled + rng.randint(1, quantity - filled - 1)
                )
            elif shape < 0.6:
                body["quantity"] = self.qty(quantity + rng.randint(1, 10))
            else:
                body["price"] = str(max(1, price + rng.choice((-3, -2, -1, 1, 2, 3))))
                if shape > 0.85:
                    body["quantity"] = self.qty(filled + rng.randint(1, 15))
            return who, "patch", f"/api/v1/orders/{order_id}", body
        side = rng.choice(("buy", "sell"))
        body = {"symbol": "BTC-USD", "side": side}
        if rng.random() < 0.15:
            body["stp"] = rng.choice(("expire_maker", "expire_both"))
        if roll < 0.38:
            body["type"] = "market"
            if side == "buy" and rng.random() < 0.5:
                body["quote_quantity"] = (
                    f"{rng.randint(1_000, 30_000)}.{rng.randint(0, 99):02d}"
                )
            else:
                body["quantity"] = self.qty(rng.randint(1, 30))
            return who, "post", "/api/v1/orders", body
        # Limits around the middle, a little apart per side so they cross often.
        skew = -2 if side == "buy" else 2
        body["price"] = str(MID + skew + rng.randint(-8, 8))
        body["quantity"] = self.qty(rng.randint(1, 25))
        kind = rng.random()
        if kind < 0.12:
            body["time_in_force"] = "ioc"
        elif kind < 0.22:
            body["time_in_force"] = "fok"
        elif kind < 0.34:
            body["post_only"] = True
        return who, "post", "/api/v1/orders", body

    @staticmethod
    def qty(n_lots: int) -> str:
        return f"{Decimal(n_lots) / 100:.2f}"

    # -- both sides -------------------------------------------------------------

    def step(self) -> None:
        who, method, url, body = self.request()
        user = self.users[who]
        available_usd = None
        if body and body.get("type") == "market" and "quote_quantity" not in body:
            available_usd = balances(user).get("USD", (0, 0))[0]
            # a market buy by quantity holds at most its quantity at the price
            # limit (docs/trading.md, "The market-buy hold"; fees in BTC here)
            instrument = Instrument.objects.get(symbol="BTC-USD")
            cap = market_buy_cap_ticks(
                reference_ticks=instrument.last_price_ticks,
                band_percent=instrument.price_band_percent,
                slippage_percent=settings.TRADING_MARKET_BUY_SLIPPAGE_PERCENT,
            )
            if cap is not None:
                available_usd = min(
                    available_usd,
                    cap * lots(body["quantity"]) * instrument.notional_per_tick_lot,
                )
        if self.batch is None:
            with self.capture(execute=True):
                response = getattr(self.clients[who], method)(url, body, format="json")
        else:
            response = getattr(self.clients[who], method)(url, body, format="json")
        if response.status_code >= 400:
            assert response.status_code in (409, 422), response.content
            return
        self.accepted += 1
        payload = response.json()
        order_id = payload["id"]
        command: Place | Cancel | AmendRequest
        if method == "post":
            assert body is not None  # a placement sends its body
            assert response.status_code == 201
            quote_limit = None
            if body.get("type") == "market" and body["side"] == "buy":
                quote_limit = (
                    cents(body["quote_quantity"])
                    if "quote_quantity" in body
                    else available_usd  # what is held: the bound, or all if less
                )
            command = Place(
                order_id=order_id,
                owner=user.pk,
                side=body["side"],
                type=body.get("type", "limit"),
                price=ticks(body["price"]) if "price" in body else None,
                quantity=lots(body["quantity"]) if "quantity" in body else None,
                time_in_force=body.get("time_in_force", "gtc"),
                post_only=body.get("post_only", False),
                quote_limit=quote_limit,
                stp=body.get("stp", "expire_taker"),
            )
        elif method == "delete":
            command = Cancel(order_id)
        else:
            assert body is not None  # an amend sends its body
            command = AmendRequest(order_id, body)
            self.amend_rows.append(
                OrderCommand.objects.filter(order_id=order_id, kind="amend")
                .latest("pk")
                .pk
            )
        self.queue.append(command)
        if self.batch is None:
            self.flush()
        elif len(self.queue) >= self.batch:
            self.drain()

    def drain(self) -> None:
        """Batched mode: the worker wakes up and applies everything queued."""
        match(Instrument.objects.get())
        self.flush()

    def flush(self) -> None:
        for command in self.queue:
            if isinstance(command, AmendRequest):
                command = self.engine_amend(command.order_id, command.body)
                if command is None:
                    continue
            self.engine_events.extend(self.engine.process(command))
        self.queue.clear()

    def engine_amend(self, order_id: int, body: dict):
        """An amend carries the new total; what stays open depends on the fills
        when it is applied (the matcher's rule, restated)."""
        row = OrderCommand.objects.get(pk=self.amend_rows.pop(0))
        assert row.order_id == order_id
        if row.result == "insufficient_funds":
            # Fills between the request and the matcher left the hold short; the
            # matcher refused. Only possible when requests queue up.
            assert self.batch is not None
            return None
        resting = self.engine.get_order(order_id)
        new_open = None
        if "quantity" in body:
            filled = resting.filled if resting else 0
            new_open = lots(body["quantity"]) - filled
            if new_open <= 0:
                return Cancel(order_id)
        price = ticks(body["price"]) if "price" in body else None
        return Amend(order_id, new_price=price, new_quantity=new_open)

    # -- comparing --------------------------------------------------------------

    def engine_outcomes(self) -> dict[int, tuple[str, str, int, int]]:
        """order id -> (status, reason, filled, open) as the bare engine says."""
        out: dict[int, list] = {}
        for event in self.engine_events:
            if isinstance(event, Accepted):
                row = out.setdefault(event.order_id, ["pending", "", 0, 0])
                if event.resting:
                    row[0] = "open"
            elif isinstance(event, Rejected) and event.command == "place":
                order_id = cast(int, event.order_id)  # a database id, from the API
                out[order_id] = ["rejected", str(event.reason), 0, 0]
            elif isinstance(event, TradeEvent):
                for order_id in (event.maker_order_id, event.taker_order_id):
                    out[order_id][2] += event.quantity
            elif isinstance(event, OrderDone):
                row = out[event.order_id]
                row[0] = str(event.reason)
                row[1] = str(event.detail)
        for order_id, row in out.items():
            resting = self.engine.get_order(order_id)
            if resting is not None:
                row[3] = resting.quantity
                if row[2] and row[0] == "open":
                    row[0] = "partially_filled"
        return {order_id: tuple(row) for order_id, row in out.items()}


@pytest.fixture
def traders(make_trader):
    return [
        make_trader(f"t{i}@example.com", usd=10_000_000 * USD, btc=5_000 * BTC)
        for i in range(4)
    ]


@pytest.mark.parametrize(
    "seed,requests,batch",
    [(1, 100, None), (2, 150, 9)],
    ids=["match-each", "batches"],
)
def test_api_and_matcher_agree_with_the_bare_engine(
    btc_usd, traders, django_capture_on_commit_callbacks, seed, requests, batch
):
    run = Run(seed, traders, django_capture_on_commit_callbacks, batch)
    if batch is None:
        for _ in range(requests):
            run.step()
    else:
        # No worker: the on-commit message is dropped; the test drains the queue.
        with lost_messages():
            for _ in range(requests):
                run.step()
            run.drain()
    assert run.accepted > requests * 0.8

    instrument = Instrument.objects.get()
    engine_trades = [
        (
            e.seq,
            e.price,
            e.quantity,
            e.maker_order_id,
            e.taker_order_id,
            str(e.taker_side),
        )
        for e in run.engine_events
        if isinstance(e, TradeEvent)
    ]
    db_trades = [
        (
            t.seq,
            t.price_ticks,
            t.quantity_lots,
            t.maker_order_id,
            t.taker_order_id,
            t.taker_side,
        )
        for t in Trade.objects.filter(instrument=instrument).order_by("seq")
    ]
    assert len(db_trades) > 20
    assert db_trades == engine_trades

    db_outcomes = {
        o.pk: (o.status, o.reason, o.filled_lots, o.open_lots)
        for o in Order.objects.filter(instrument=instrument)
    }
    assert db_outcomes == run.engine_outcomes()

    assert instrument.engine_seq == run.engine.sequence
    assert instrument.last_price_ticks == run.engine.last_trade_price
    assert run.engine.depth(1000) == matcher_state.books[instrument.pk][1].depth(1000)
    expected = run.engine.snapshot()
    assert matcher_state.books[instrument.pk][1].snapshot() == expected
    assert matching.book_rebuild(instrument).snapshot() == expected
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    assert_ledger_ok()
