"""Differential: the API + matching job against the bare engine.

A seeded stream of a few hundred requests (limits GTC/IOC/FOK/GTD, post-only,
market orders by quantity and by quote, trailing stops, OCO pairs, cancels, amends,
self-trade modes; four users with ample funds) goes through the HTTP API, on a
clock the test moves (time_machine: placement and the matcher read the same
`timezone.now`), jumping now and then so that GTD orders expire. Every request
the API accepts is replayed, in the same order, on a bare
`trading.engine.OrderBook`, with the prices and quantities converted to ticks and
lots here (independently of `trading.units`) and the database's order ids as
engine ids. Both must give the same prints (seq, price, quantity, maker, taker,
side), the same outcome for every order, and the same final book: the engine's
snapshot equals the matcher's in-memory book and a rebuild from the database rows.

Two schedules: the matcher after every request (the embedded mode's path), and in
batches (requests queue up with no worker, then one run applies them all).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.testing import api_client_for
from trading.engine import (
    Accepted,
    Amend,
    Cancel,
    Event,
    ExpireDue,
    OrderBook,
    OrderDone,
    Place,
    PlaceOco,
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
    def __init__(self, seed: int, users, capture, batch: int | None, traveller):
        self.rng = random.Random(seed)
        self.traveller = traveller
        self.clock = timezone.now().replace(microsecond=0)
        self.engine_clock = 0  # the last ExpireDue the bare engine was sent
        self.pairs: dict[int, int] = {}  # OCO limit leg -> stop leg
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
        last = Instrument.objects.values_list("last_price_ticks", flat=True).get()
        if 0.38 <= roll < 0.46 and last is not None:
            return who, "post", "/api/v1/orders", self.trailing(body, last)
        if 0.46 <= roll < 0.53 and last is not None:
            return who, "post", "/api/v1/orders/oco", self.oco(body, last)
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
        elif kind < 0.55:
            self.gtd(body)
        return who, "post", "/api/v1/orders", body

    def gtd(self, body: dict) -> None:
        expire_at = self.clock + timedelta(seconds=self.rng.randint(30, 1_200))
        body["time_in_force"] = "gtd"
        body["expire_at"] = expire_at.isoformat()

    def trail(self, body: dict) -> None:
        if self.rng.random() < 0.5:
            body["trailing_amount"] = str(self.rng.randint(1, 8))
        else:
            body["trailing_bps"] = self.rng.randint(5, 80)

    def trailing(self, body: dict, last: int) -> dict:
        """A trailing stop (market, or limit a little past the last price)."""
        rng = self.rng
        body["type"] = rng.choice(("stop_market", "stop_limit"))
        body["quantity"] = self.qty(rng.randint(1, 20))
        if body["type"] == "stop_limit":
            away = rng.randint(0, 10)
            body["price"] = str(last - away if body["side"] == "sell" else last + away)
        self.trail(body)
        if rng.random() < 0.2:
            self.gtd(body)
        return body

    def oco(self, body: dict, last: int) -> dict:
        """A pair on the right sides of the last price (placement's rule)."""
        rng = self.rng
        sign = 1 if body["side"] == "sell" else -1
        body["quantity"] = self.qty(rng.randint(1, 20))
        body["price"] = str(last + sign * rng.randint(1, 10))
        if rng.random() < 0.3:
            self.trail(body)
            stop = last - sign * 8
        else:
            stop = last - sign * rng.randint(1, 10)
            body["stop_price"] = str(stop)
        if rng.random() < 0.5:
            body["stop_limit_price"] = str(max(1, stop - sign * rng.randint(0, 5)))
        if rng.random() < 0.2:
            self.gtd(body)
        return body

    def jump(self) -> None:
        """Time passes: the next run expires what is due by then."""
        self.clock += timedelta(seconds=self.rng.randint(300, 1_500))
        self.traveller.move_to(self.clock)
        # fresh tokens: the old ones may have expired on the way
        self.clients = [api_client_for(user) for user in self.users]

    @staticmethod
    def qty(n_lots: int) -> str:
        return f"{Decimal(n_lots) / 100:.2f}"

    @staticmethod
    def seconds(text: str | None) -> int | None:
        if text is None:
            return None
        return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())

    def place_command(self, body: dict, order_id: int, owner: int, **over) -> Place:
        fields = {
            "order_id": order_id,
            "owner": owner,
            "side": body["side"],
            "type": body.get("type", "limit"),
            "price": ticks(body["price"]) if body.get("price") else None,
            "quantity": lots(body["quantity"]) if "quantity" in body else None,
            "time_in_force": body.get("time_in_force", "gtc"),
            "post_only": body.get("post_only", False),
            "stop_price": (
                ticks(body["stop_price"]) if body.get("stop_price") else None
            ),
            "stp": body.get("stp", "expire_taker"),
            "expire_at": self.seconds(body.get("expire_at")),
            "trail_amount": (
                ticks(body["trailing_amount"]) if "trailing_amount" in body else None
            ),
            "trail_bps": body.get("trailing_bps"),
        }
        return Place(**{**fields, **over})

    def oco_command(self, body: dict, legs: list[dict], owner: int) -> PlaceOco:
        limit_id, stop_id = legs[0]["id"], legs[1]["id"]
        self.pairs[limit_id] = stop_id
        common = {
            k: body[k]
            for k in ("side", "quantity", "time_in_force", "expire_at")
            if k in body
        }
        limit = self.place_command({**common, "price": body["price"]}, limit_id, owner)
        stop_body = {
            **common,
            **{
                k: body[k]
                for k in ("stop_price", "trailing_amount", "trailing_bps")
                if k in body
            },
            "type": legs[1]["type"],
            "price": body.get("stop_limit_price"),
        }
        quote_limit = Order.objects.values_list("quote_limit", flat=True).get(
            pk=stop_id
        )
        stop = self.place_command(stop_body, stop_id, owner, quote_limit=quote_limit)
        return PlaceOco(limit=limit, stop=stop)

    # -- both sides -------------------------------------------------------------

    def step(self) -> None:
        if self.rng.random() < 0.08:
            self.jump()
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
        command: Place | PlaceOco | Cancel | AmendRequest
        if url.endswith("/oco"):
            assert body is not None and response.status_code == 201
            command = self.oco_command(body, payload["orders"], user.pk)
            self.queue.append(command)
            if self.batch is None:
                self.flush()
            elif len(self.queue) >= self.batch:
                self.drain()
            return
        order_id = payload["id"]
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
            if body.get("type") == "stop_market" and body["side"] == "buy":
                # held at its bound above the first stop price: as stored
                quote_limit = Order.objects.values_list("quote_limit", flat=True).get(
                    pk=order_id
                )
            command = self.place_command(
                body, order_id, user.pk, quote_limit=quote_limit
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
        """The queued commands on the bare engine, after the ExpireDue the
        matcher's run sent first (the run's clock: the test's)."""
        if not self.queue:
            return
        now = int(self.clock.timestamp())
        self.engine_events.extend(self.engine.process(ExpireDue(now)))
        self.engine_clock = now
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
            elif (
                isinstance(event, Rejected)
                and event.command != "cancel"
                and (event.command != "amend")
            ):
                order_id = cast(int, event.order_id)  # a database id, from the API
                out[order_id] = ["rejected", str(event.reason), 0, 0]
                if order_id in self.pairs:  # the pair as one
                    out[self.pairs[order_id]] = ["rejected", str(event.reason), 0, 0]
            elif isinstance(event, TradeEvent):
                for order_id in (event.maker_order_id, event.taker_order_id):
                    out[order_id][2] += event.quantity
            elif isinstance(event, OrderDone):
                row = out[event.order_id]
                row[0] = str(event.reason)
                row[1] = str(event.detail)
        for order_id, row in out.items():
            resting = self.engine.get_order(order_id)
            waiting = self.engine.get_stop(order_id)
            if resting is not None:
                row[3] = resting.quantity
                if row[2] and row[0] == "open":
                    row[0] = "partially_filled"
            elif waiting is not None:
                row[3] = cast(int, waiting.quantity)
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
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        run = Run(seed, traders, django_capture_on_commit_callbacks, batch, traveller)
        if batch is None:
            for _ in range(requests):
                run.step()
        else:
            # No worker: the on-commit message is dropped; the test drains it.
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
    rebuilt = matching.book_rebuild(instrument)
    rebuilt.process(ExpireDue(run.engine_clock))  # a run's first command
    assert rebuilt.snapshot() == expected
    # every kind of the stream came through, and trailing stops stop where
    # the engine says
    kinds = Order.objects.filter(instrument=instrument)
    assert kinds.filter(reason="gtd").exists()
    assert kinds.filter(reason="oco").exists()
    assert kinds.filter(trail_bps__isnull=False).exists()
    for order in kinds.filter(
        status__in=Order.OPEN_STATUSES,
        type__in=("stop_limit", "stop_market"),
        stop_triggered=False,
    ):
        waiting = run.engine.get_stop(order.pk)
        assert waiting is not None and waiting.stop_price == order.stop_price_ticks
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    assert_ledger_ok()
