"""Differential test: random commands against the fast book and the reference book.

Commands include GTD orders with a moving clock (ExpireDue), DAY orders and
the end of their day (ExpireDay), OCO pairs and
trailing stops besides every plain order type, cancel and amend, and call
auctions: phase changes (valid or not) and uncrosses into each next phase.

After every step the two must give the very same events (accepts, rejects, trades,
fills, expiries, triggers, amends and level changes, sequence numbers included)
and the same snapshot (resting orders, stops, last price, sequence); the book must
never cross; sequence numbers must move by one per Trade/LevelChanged; replaying
the LevelChanged events must rebuild the depth; and every order's quantity must be
conserved (placed = filled + resting + cancelled/expired).
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from trading.engine import (
    STP,
    Accepted,
    Amend,
    Amended,
    Cancel,
    Event,
    ExpireDay,
    ExpireDue,
    LevelChanged,
    OrderBook,
    OrderDone,
    OrderType,
    Phase,
    Place,
    PlaceOco,
    ReferenceBook,
    SetBand,
    SetPhase,
    Side,
    TimeInForce,
    Trade,
    Uncross,
)

owners = st.integers(1, 3)
sides = st.sampled_from([Side.BUY, Side.SELL])
prices = st.integers(95, 105)
quantities = st.integers(1, 6)
tifs = st.sampled_from(
    [
        TimeInForce.GTC,
        TimeInForce.GTC,
        TimeInForce.IOC,
        TimeInForce.FOK,
        TimeInForce.GTD,
        TimeInForce.DAY,
    ]
)
times = st.integers(1, 40)
trails = st.sampled_from(["fixed", "fixed", "amount", "bps"])
stps = st.sampled_from([STP.EXPIRE_TAKER, STP.EXPIRE_MAKER, STP.EXPIRE_BOTH])


class EngineVersusReference(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.book = OrderBook("TEST")
        self.ref = ReferenceBook("TEST")
        self.next_id = 1
        self.ids: list[int] = []
        self.levels: dict[tuple[str, int], int] = {}
        # order id -> [expected total quantity or None, filled so far]
        self.ledger: dict[int, list[int | None]] = {}

    # ----------------------------------------------------------------- helpers

    def new_id(self) -> int:
        order_id = self.next_id
        self.next_id += 1
        self.ids.append(order_id)
        return order_id

    def apply(self, command: object) -> None:
        seq_before = self.book.sequence
        events = self.book.process(command)  # type: ignore[arg-type]
        expected = self.ref.process(command)  # type: ignore[arg-type]
        assert events == expected, (command, events, expected)
        self.check_sequence(seq_before, events)
        self.check_ledger(command, events)

    def check_sequence(self, seq: int, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Trade | LevelChanged):
                seq += 1
            assert event.seq == seq, (event, seq)  # type: ignore[attr-defined]
            if isinstance(event, LevelChanged):
                self.levels[(event.side, event.price)] = event.quantity
        assert self.book.sequence == seq

    def check_ledger(self, command: object, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Accepted) and isinstance(command, Place):
                self.ledger[event.order_id] = [command.quantity, 0]
            elif isinstance(event, Accepted) and isinstance(command, PlaceOco):
                self.ledger[event.order_id] = [command.limit.quantity, 0]
            elif isinstance(event, Trade):
                for order_id in (event.maker_order_id, event.taker_order_id):
                    entry = self.ledger[order_id]
                    entry[1] = (entry[1] or 0) + event.quantity
            elif isinstance(event, Amended):
                entry = self.ledger[event.order_id]
                entry[0] = (entry[1] or 0) + event.quantity
            elif isinstance(event, OrderDone):
                total, filled = self.ledger.pop(event.order_id)
                assert event.filled_quantity == filled
                if total is not None:
                    assert filled + event.remaining_quantity == total, event

    # ------------------------------------------------------------------- rules

    @staticmethod
    def expiry(tif: TimeInForce, at: int) -> int | None:
        return at if tif is TimeInForce.GTD else None

    @rule(
        owner=owners, side=sides, price=prices, quantity=quantities, tif=tifs,
        post_only=st.booleans(), stp=stps, at=times,
    )  # fmt: skip
    def place_limit(
        self, owner, side, price, quantity, tif, post_only, stp, at
    ) -> None:
        if post_only and tif is not TimeInForce.GTD:
            tif = TimeInForce.GTC
        self.apply(
            Place(
                self.new_id(), owner, side, OrderType.LIMIT, price, quantity, tif,
                post_only, stp=stp, expire_at=self.expiry(tif, at),
            )
        )  # fmt: skip

    @rule(
        owner=owners, side=sides, quantity=st.none() | quantities,
        quote=st.none() | st.integers(50, 1500), tif=tifs, stp=stps,
    )  # fmt: skip
    def place_market(self, owner, side, quantity, quote, tif, stp) -> None:
        if side is Side.SELL:
            quote = None
        if quantity is None and quote is None:
            quantity = 1
        if tif is TimeInForce.GTD:
            tif = TimeInForce.IOC
        self.apply(
            Place(
                self.new_id(), owner, side, OrderType.MARKET, None, quantity, tif,
                quote_limit=quote, stp=stp,
            )
        )  # fmt: skip

    @rule(
        owner=owners, side=sides, market=st.booleans(), stop_price=prices,
        price=prices, quantity=quantities, tif=tifs, stp=stps, at=times,
        trail=trails, amount=st.integers(1, 4), bps=st.integers(1, 400),
    )  # fmt: skip
    def place_stop(
        self, owner, side, market, stop_price, price, quantity, tif, stp, at, trail,
        amount, bps,
    ):  # fmt: skip
        kind = OrderType.STOP_MARKET if market else OrderType.STOP_LIMIT
        self.apply(
            Place(
                self.new_id(), owner, side, kind, None if market else price,
                quantity, tif, stop_price=stop_price if trail == "fixed" else None,
                stp=stp, expire_at=self.expiry(tif, at),
                trail_amount=amount if trail == "amount" else None,
                trail_bps=bps if trail == "bps" else None,
            )
        )  # fmt: skip

    @rule(
        owner=owners, side=sides, price=prices, quantity=quantities,
        stop_price=prices, stop_limit=st.none() | prices, gtd=st.booleans(),
        at=times, post_only=st.booleans(), trail=trails, amount=st.integers(1, 4),
        bps=st.integers(1, 400), stp=stps,
    )  # fmt: skip
    def place_oco(
        self, owner, side, price, quantity, stop_price, stop_limit, gtd, at,
        post_only, trail, amount, bps, stp,
    ) -> None:  # fmt: skip
        tif = TimeInForce.GTD if gtd else TimeInForce.GTC
        expire_at = at if gtd else None
        kind = OrderType.STOP_MARKET if stop_limit is None else OrderType.STOP_LIMIT
        limit_leg = Place(
            self.new_id(), owner, side, OrderType.LIMIT, price, quantity, tif,
            post_only, stp=stp, expire_at=expire_at,
        )  # fmt: skip
        stop_leg = Place(
            self.new_id(), owner, side, kind, stop_limit, quantity, tif,
            stop_price=stop_price if trail == "fixed" else None, stp=stp,
            expire_at=expire_at, trail_amount=amount if trail == "amount" else None,
            trail_bps=bps if trail == "bps" else None,
        )  # fmt: skip
        self.apply(PlaceOco(limit_leg, stop_leg))

    @rule(
        data=st.data(),
        field=st.sampled_from(["owner", "quantity", "tif", "leg", "dup"]),
    )
    def place_oco_invalid(self, data, field) -> None:
        limit_leg = Place(self.new_id(), 1, Side.BUY, OrderType.LIMIT, 96, 2)
        stop_leg = Place(
            self.new_id(), 1, Side.BUY, OrderType.STOP_MARKET, None, 2,
            stop_price=104,
        )  # fmt: skip
        if field == "owner":
            stop_leg = stop_leg._replace(owner=2)
        elif field == "quantity":
            stop_leg = stop_leg._replace(quantity=3)
        elif field == "tif":
            limit_leg = limit_leg._replace(time_in_force=TimeInForce.IOC)
            stop_leg = stop_leg._replace(time_in_force=TimeInForce.IOC)
        elif field == "leg":
            stop_leg = stop_leg._replace(type=OrderType.LIMIT, price=97)
        elif field == "dup" and len(self.ids) > 2:
            stop_leg = stop_leg._replace(order_id=data.draw(st.sampled_from(self.ids)))
        self.apply(PlaceOco(limit_leg, stop_leg))

    @rule(now=st.integers(0, 45))
    def expire_due(self, now) -> None:
        self.apply(ExpireDue(now))

    @rule()
    def expire_day(self) -> None:
        self.apply(ExpireDay())
        # Nothing placed DAY is left open: resting, waiting as a stop, or queued.
        for side in (Side.BUY, Side.SELL):
            assert not any(o.day for o in self.book.resting_orders(side))
        assert all(
            s.time_in_force is not TimeInForce.DAY for s in self.book.stop_orders()
        )

    @rule(phase=st.sampled_from([*Phase, "auction"]))
    def set_phase(self, phase) -> None:
        self.apply(SetPhase(phase))

    @rule(next_phase=st.sampled_from([*Phase, Phase.CONTINUOUS, "x"]))
    def uncross(self, next_phase) -> None:
        self.apply(Uncross(next_phase))

    @rule(
        band=st.none() | st.integers(-1, 600),
        reference=st.none() | st.integers(0, 110),
    )
    def set_band(self, band, reference) -> None:
        self.apply(SetBand(band, reference))

    @rule(
        data=st.data(),
        field=st.sampled_from(
            ["price", "quantity", "stop", "quote", "dup", "tif", "expiry", "trail"]
        ),
    )
    def place_invalid(self, data, field) -> None:
        order_id = self.new_id()
        command = Place(order_id, 1, Side.BUY, OrderType.LIMIT, 100, 1)
        if field == "price":
            command = command._replace(price=data.draw(st.sampled_from([0, -1, None])))
        elif field == "quantity":
            command = command._replace(quantity=data.draw(st.sampled_from([0, -3])))
        elif field == "stop":
            command = command._replace(stop_price=100)
        elif field == "quote":
            command = command._replace(quote_limit=100)
        elif field == "dup" and len(self.ids) > 1:
            command = command._replace(order_id=data.draw(st.sampled_from(self.ids)))
        elif field == "tif":
            command = command._replace(post_only=True, time_in_force=TimeInForce.IOC)
        elif field == "expiry":
            command = command._replace(
                time_in_force=data.draw(st.sampled_from(list(TimeInForce))),
                expire_at=data.draw(st.sampled_from([None, 0, 5])),
            )
        elif field == "trail":
            command = command._replace(
                type=data.draw(st.sampled_from(list(OrderType))),
                stop_price=data.draw(st.sampled_from([None, 99])),
                trail_amount=data.draw(st.sampled_from([None, 0, 2])),
                trail_bps=data.draw(st.sampled_from([None, 10_000, 30])),
            )
        self.apply(command)

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def cancel(self, data) -> None:
        self.apply(Cancel(data.draw(st.sampled_from(self.ids))))

    @precondition(lambda self: self.ids)
    @rule(
        data=st.data(), new_price=st.none() | prices,
        new_quantity=st.none() | st.integers(0, 8),
    )  # fmt: skip
    def amend(self, data, new_price, new_quantity) -> None:
        self.apply(Amend(data.draw(st.sampled_from(self.ids)), new_price, new_quantity))

    @rule()
    def snapshot_and_restore(self) -> None:
        restored = OrderBook.restore(self.book.snapshot())
        assert restored.state_hash() == self.book.state_hash()
        self.book = restored
        self.ref = ReferenceBook.restore(self.ref.snapshot())

    # -------------------------------------------------------------- invariants

    @invariant()
    def same_book(self) -> None:
        assert self.book.snapshot() == self.ref.snapshot()
        assert self.book.depth(1000) == self.ref.depth(1000)
        assert self.book.state_hash() == self.ref.state_hash()

    @invariant()
    def never_crossed(self) -> None:
        # A call may cross (and a book closed from a call stays so until the
        # next call's uncross); only a call holds queued market orders.
        if self.book.phase is Phase.CONTINUOUS:
            assert not self.book.is_crossed()
        if self.book.phase is not Phase.CALL:
            assert self.book.market_orders() == []

    @invariant()
    def level_events_rebuild_depth(self) -> None:
        streamed = {key: q for key, q in self.levels.items() if q}
        bids, asks = self.book.depth(1000)
        actual = {("buy", p): q for p, q in bids} | {("sell", p): q for p, q in asks}
        assert streamed == actual

    @invariant()
    def resting_quantities_conserved(self) -> None:
        for side in (Side.BUY, Side.SELL):
            for order in self.book.resting_orders(side):
                total, filled = self.ledger[order.order_id]
                assert order.filled == filled
                assert total == order.quantity + (filled or 0)


EngineVersusReference.TestCase.settings = settings(
    max_examples=int(os.environ.get("ENGINE_STATEFUL_EXAMPLES", "150")),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_engine_matches_reference = EngineVersusReference.TestCase
