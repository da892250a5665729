"""Call phases and the uncross, on both books: worked examples with exact
prices, volumes and allocations, the phase rules, and a hypothesis property
holding the uncross price and volume against ``literal_uncross`` below, which
tries every price and applies the documented rule step by step."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.engine import (
    STP,
    Accepted,
    Amend,
    Book,
    Cancel,
    DoneDetail,
    DoneReason,
    ExpireDue,
    Indicative,
    LevelChanged,
    OrderBook,
    OrderDone,
    OrderType,
    Phase,
    PhaseChanged,
    Place,
    ReferenceBook,
    RestingOrder,
    SetBand,
    SetPhase,
    Side,
    TimeInForce,
    Trade,
    Uncross,
)
from trading.tests.engine.helpers import done, level_changes, rejections, trades

BUY, SELL = Side.BUY, Side.SELL
MARKET = OrderType.MARKET


def buy(order_id: int, price: int | None, quantity: int, owner: int = 0) -> Place:
    kind = OrderType.LIMIT if price is not None else MARKET
    return Place(order_id, owner or order_id, BUY, kind, price, quantity)


def sell(order_id: int, price: int | None, quantity: int, owner: int = 0) -> Place:
    kind = OrderType.LIMIT if price is not None else MARKET
    return Place(order_id, owner or order_id, SELL, kind, price, quantity)


def call_book(
    book_class: type[Book], orders: list[Place], last_price: int | None = None
) -> Book:
    book = book_class.from_resting("TEST", (), last_price=last_price)
    book.process(SetPhase(Phase.CALL))
    events = book.process_many(orders)
    assert rejections(events) == []
    return book


def indicative(book: Book) -> tuple[object, ...]:
    """The result the book states now; an idle command publishes nothing new,
    so the last Indicative event said the same."""
    assert [e for e in book.process(Cancel(-1)) if isinstance(e, Indicative)] == []
    return book.indicative()


# ------------------------------------------------------------ worked examples

# (name, orders, last price, (price, volume, surplus, surplus side),
#  trades as (sell id, buy id, quantity), left on the book (bids, asks))
EXAMPLES = [
    (
        # NSE-style pre-open table: cumulative buys 70 70 45 30 10 against
        # cumulative sells 20 35 45 75 75 at 100..104: 45 lots at 102.
        "nse_equilibrium",
        [
            buy(1, 104, 10),
            buy(2, 103, 20),
            buy(3, 102, 15),
            buy(4, 101, 25),
            sell(5, 100, 20),
            sell(6, 101, 15),
            sell(7, 102, 10),
            sell(8, 103, 30),
        ],
        None,
        (102, 45, 0, None),
        [(5, 1, 10), (5, 2, 10), (6, 2, 10), (6, 3, 5), (7, 3, 10)],
        ([(101, 25)], [(103, 30)]),
    ),
    (
        # Largest volume alone decides: 4, 7, 8, 5 lots at 99..102.
        "max_volume",
        [
            buy(1, 102, 5),
            buy(2, 101, 3),
            buy(3, 100, 4),
            sell(4, 99, 4),
            sell(5, 100, 3),
            sell(6, 101, 6),
        ],
        None,
        (101, 8, 5, SELL),
        [(4, 1, 4), (5, 1, 1), (5, 2, 2), (6, 2, 1)],
        ([(100, 4)], [(101, 5)]),
    ),
    (
        # Xetra-style, 5 lots at 99 and at 101: the smaller surplus (1 sell
        # against 2 buy) wins.
        "min_surplus",
        [buy(1, 101, 5), buy(2, 99, 2), sell(3, 99, 5), sell(4, 101, 1)],
        None,
        (101, 5, 1, SELL),
        [(3, 1, 5)],
        ([(99, 2)], [(101, 1)]),
    ),
    (
        # Buy surplus at every candidate: market pressure, the highest price.
        "buy_pressure",
        [buy(1, 102, 6), sell(2, 100, 4)],
        None,
        (102, 4, 2, BUY),
        [(2, 1, 4)],
        ([(102, 2)], []),
    ),
    (
        # Sell surplus at every candidate: the lowest price.
        "sell_pressure",
        [buy(1, 102, 4), sell(2, 100, 6)],
        None,
        (100, 4, 2, SELL),
        [(2, 1, 4)],
        ([], [(100, 2)]),
    ),
    (
        # No surplus anywhere: the price nearest the reference (last trade 101,
        # itself a candidate).
        "reference_inside",
        [buy(1, 103, 5), sell(2, 100, 5)],
        101,
        (101, 5, 0, None),
        [(2, 1, 5)],
        ([], []),
    ),
    (
        "reference_below",
        [buy(1, 103, 5), sell(2, 100, 5)],
        90,
        (100, 5, 0, None),
        [(2, 1, 5)],
        ([], []),
    ),
    (
        "reference_above",
        [buy(1, 103, 5), sell(2, 100, 5)],
        110,
        (103, 5, 0, None),
        [(2, 1, 5)],
        ([], []),
    ),
    (
        # No reference at all: the lower price.
        "no_reference",
        [buy(1, 103, 5), sell(2, 100, 5)],
        None,
        (100, 5, 0, None),
        [(2, 1, 5)],
        ([], []),
    ),
    (
        # Market orders first: the market buy (id 3, last to arrive) is
        # served before the limit buy at 101.
        "market_first",
        [buy(1, 101, 3), sell(2, 100, 4), buy(3, None, 2)],
        None,
        (101, 4, 1, BUY),
        [(2, 3, 2), (2, 1, 2)],
        ([(101, 1)], []),
    ),
    (
        # Only market orders cross: they trade at the reference (last price).
        "markets_at_reference",
        [buy(1, None, 5), sell(2, None, 3)],
        100,
        (100, 3, 2, BUY),
        [(2, 1, 3)],
        ([], []),
    ),
    (
        # Only market orders and no reference: no price, nothing trades.
        "markets_without_reference",
        [buy(1, None, 5), sell(2, None, 3)],
        None,
        (None, 0, 0, None),
        [],
        ([], []),
    ),
]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_worked_examples(example, book_class) -> None:
    name, orders, last, result, expected_trades, left = example
    # Given the orders collected in a call
    book = call_book(book_class, orders, last)
    # Then the published indicative result is the example's
    assert indicative(book) == result, name
    # When the book uncrosses into continuous trading
    events = book.process(Uncross(Phase.CONTINUOUS))
    # Then every trade is an auction trade at the one price, allocated in order
    got = [e for e in events if isinstance(e, Trade)]
    assert [(t.maker_order_id, t.taker_order_id, t.quantity) for t in got] == (
        expected_trades
    ), name
    assert {(t.price, t.auction, t.taker_side) for t in got} <= {(result[0], True, BUY)}
    # and the book left behind is the example's, not crossed, continuous
    assert book.depth(10) == left, name
    assert not book.is_crossed()
    assert book.phase is Phase.CONTINUOUS
    assert book.market_orders() == []
    assert isinstance(events[-1], PhaseChanged)


def test_uncross_events_in_order(book_class) -> None:
    # Given a crossed call with a market buy and a partly filled limit buy
    book = call_book(book_class, [buy(1, 101, 3), sell(2, 100, 4), buy(3, None, 2)])
    seq = book.sequence
    # When it uncrosses and stays closed
    events = book.process(Uncross(Phase.CLOSED))
    # Then: trades with the closes they cause, one LevelChanged per level
    # touched (bids best first, then asks), then the phase
    assert [type(e).__name__ for e in events] == [
        "Trade", "OrderDone", "Trade", "OrderDone", "LevelChanged",
        "LevelChanged", "PhaseChanged",
    ]  # fmt: skip
    assert trades(events) == [(2, 3, 101, 2), (2, 1, 101, 2)]
    assert done(events) == {3: ("filled", "", 0, 2), 2: ("filled", "", 0, 4)}
    assert level_changes(events) == [("buy", 101, 1), ("sell", 100, 0)]
    assert book.sequence == seq + 4
    assert events[-1] == PhaseChanged(seq + 4, Phase.CLOSED, "uncross")
    assert book.last_trade_price == 101


def test_indicative_follows_each_change(book_class) -> None:
    # Given a call
    book = book_class("TEST")
    assert book.process(SetPhase(Phase.CALL)) == [
        PhaseChanged(0, Phase.CALL, "command")
    ]
    # When orders arrive, a cancel and an amend follow
    events = book.process_many(
        [buy(1, 102, 5), sell(2, 99, 3), sell(3, 101, 4), Cancel(2), Amend(3, 103)]
    )
    # Then an Indicative comes each time the result changes, and only then
    assert [e for e in events if isinstance(e, Indicative)] == [
        Indicative(2, 102, 3, 2, BUY),
        Indicative(3, 101, 5, 2, SELL),
        Indicative(4, 102, 4, 1, BUY),
        Indicative(6, None, 0, 0, None),
    ]


def test_self_trade_in_the_uncross_and_a_second_round(book_class) -> None:
    # Given owner 1 on both sides: sell #1 at 9, then buy #2 at 10 (expire
    # taker); owner 2 buys at 9
    book = call_book(
        book_class,
        [
            sell(1, 9, 1, owner=1),
            Place(2, 1, BUY, price=10, quantity=1, stp=STP.EXPIRE_TAKER),
            buy(3, 9, 1, owner=2),
        ],
    )
    assert indicative(book) == (10, 1, 0, None)
    # When it uncrosses
    events = book.process(Uncross())
    # Then #2, the later order, acts as the taker and expires; a second round
    # at 9 trades the rest, so the book is not left crossed
    assert done(events)[2] == ("expired", "stp", 1, 0)
    assert trades(events) == [(1, 3, 9, 1)]
    assert book.depth() == ([], [])


def test_expire_maker_and_both_in_the_uncross(book_class) -> None:
    # expire_maker on the later order: the earlier one leaves, the later trades
    book = call_book(
        book_class,
        [
            sell(1, 9, 1, owner=1),
            sell(2, 9, 1, owner=3),
            Place(3, 1, BUY, price=10, quantity=1, stp=STP.EXPIRE_MAKER),
        ],
    )
    events = book.process(Uncross())
    assert done(events)[1] == ("expired", "stp", 1, 0)
    assert trades(events) == [(2, 3, 9, 1)]
    # expire_both: both leave (the sell first), nothing trades
    book = call_book(
        book_class,
        [
            sell(1, 9, 1, owner=1),
            Place(2, 1, BUY, price=10, quantity=1, stp=STP.EXPIRE_BOTH),
        ],
    )
    events = book.process(Uncross())
    assert [e.order_id for e in events if isinstance(e, OrderDone)] == [1, 2]
    assert trades(events) == []


def test_market_orders_left_expire_and_quote_limits_hold(book_class) -> None:
    # Given a market buy bounded by quote (250 = two lots at 101) and a market
    # sell larger than the bids
    book = call_book(
        book_class,
        [
            Place(1, 1, BUY, MARKET, quantity=None, quote_limit=250),
            sell(2, 101, 5),
            sell(3, None, 9),
            buy(4, 100, 1),
        ],
        last_price=100,
    )
    # When it uncrosses
    events = book.process(Uncross())
    # Then the quote buys two lots; the market sell's remainder expires
    assert trades(events) == [(3, 1, 100, 2), (3, 4, 100, 1)]
    assert done(events)[1] == ("expired", "quote_limit", 0, 2)
    assert done(events)[3] == ("expired", "auction", 6, 3)
    assert book.depth() == ([], [(101, 5)])


def test_phase_rules(book_class) -> None:
    book = book_class("TEST")
    # Continuous -> call: IOC and FOK are refused, a market order queues
    book.process(SetPhase(Phase.CALL))
    ioc = Place(1, 1, BUY, price=100, quantity=1, time_in_force=TimeInForce.IOC)
    fok = Place(2, 1, BUY, price=100, quantity=1, time_in_force=TimeInForce.FOK)
    assert rejections(book.process_many([ioc, fok])) == ["not_in_call", "not_in_call"]
    assert book.process(buy(3, None, 2))[0].resting is True
    assert [p.order_id for p in book.market_orders()] == [3]
    assert rejections(book.process(Amend(3, None, 1))) == ["not_amendable"]
    # call -> continuous only through the uncross; a bad phase is refused
    assert rejections(book.process(SetPhase(Phase.CONTINUOUS))) == ["invalid_phase"]
    assert rejections(book.process(SetPhase("auction"))) == ["invalid_phase"]  # type: ignore[arg-type]
    # call -> closed: the queued market order expires
    events = book.process(SetPhase(Phase.CLOSED))
    assert done(events) == {3: ("expired", "auction", 2, 0)}
    # closed: places and amends refused, cancels work; no uncross
    book.process(ExpireDue(5))
    assert rejections(book.process(buy(4, 100, 1))) == ["market_closed"]
    assert rejections(book.process(Uncross())) == ["invalid_phase"]
    assert rejections(book.process(Cancel(99))) == ["unknown_order"]
    assert rejections(book.process(SetPhase(Phase.CONTINUOUS))) == []
    assert rejections(book.process(Uncross())) == ["invalid_phase"]


def test_stops_wait_in_the_call_and_fire_after_the_uncross(book_class) -> None:
    # Given a buy stop at 101 placed during a call, last price 100
    book = call_book(
        book_class,
        [
            Place(9, 9, BUY, OrderType.STOP_MARKET, quantity=1, stop_price=101),
            buy(1, 102, 2),
            sell(2, 101, 2),
            sell(3, 103, 4),
        ],
        last_price=100,
    )
    assert book.get_stop(9) is not None
    # When the uncross prints at 101 (no surplus at 101 or 102: the one
    # nearest the last price)
    events = book.process(Uncross())
    assert trades(events)[0] == (2, 1, 101, 2)
    # Then the stop fires after the PhaseChanged, in continuous trading
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("StopTriggered") > kinds.index("PhaseChanged")
    assert trades(events)[-1] == (3, 9, 103, 1)


def test_a_call_snapshot_round_trips_and_replays(book_class) -> None:
    # Given a crossed call with a queued market order and a GTD order
    orders = [
        buy(1, 102, 5),
        sell(2, 99, 3),
        buy(3, None, 2),
        Place(
            4,
            4,
            SELL,
            price=100,
            quantity=4,
            time_in_force=TimeInForce.GTD,
            expire_at=50,
        ),
    ]
    book = call_book(book_class, orders)
    snapshot = book.snapshot()
    assert snapshot["phase"] == "call"
    assert snapshot["markets"] == [
        [3, 3, "buy", "market", None, 2, "ioc", False, None, None, "expire_taker",
         None, None, None, None, 0],
    ]  # fmt: skip
    # When it goes through JSON into either book
    data = json.loads(json.dumps(snapshot))
    for other in (OrderBook, ReferenceBook):
        restored = other.restore(data)
        # Then the same state, and the same uncross
        assert restored.state_hash() == book.state_hash()
        assert restored.process(Uncross()) == book_class.restore(data).process(
            Uncross()
        )
    # and a replay of the same commands gives the same events and hash
    again = call_book(book_class, orders)
    assert again.process(Uncross()) == book.process(Uncross())
    assert again.state_hash() == book.state_hash()


def test_a_format_2_snapshot_restores_continuous(book_class) -> None:
    old = OrderBook("TEST").snapshot() | {"format": 2}
    for key in ("phase", "band_bps", "reference", "markets"):
        del old[key]
    book = book_class.restore(old)
    assert book.phase is Phase.CONTINUOUS
    assert book.snapshot()["format"] == 4


# ------------------------------------------------------ the literal reference


def literal_uncross(
    orders: list[Place], reference: int | None
) -> tuple[int | None, int, int, Side | None]:
    """The documented rule, applied literally at every price from 1 to 200
    (not only the candidates): a price is eligible if it is a limit price of
    some order or the reference."""
    eligible = {o.price for o in orders if o.price is not None}
    if reference is not None:
        eligible.add(reference)
    table = []
    for price in range(1, 201):
        if price not in eligible:
            continue
        bought = 0
        sold = 0
        for o in orders:
            lots = o.quantity
            if o.quote_limit is not None:
                can = o.quote_limit // price
                lots = can if lots is None else min(lots, can)
            if o.side is BUY and (o.price is None or o.price >= price):
                bought += lots or 0
            if o.side is SELL and (o.price is None or o.price <= price):
                sold += lots or 0
        table.append(
            {"price": price, "volume": min(bought, sold), "imbalance": bought - sold}
        )
    # Step 1: the largest executable volume (nothing if it is 0)
    most = max([row["volume"] for row in table], default=0)
    if most == 0:
        return (None, 0, 0, None)
    step = [row for row in table if row["volume"] == most]
    # Step 2: the smallest surplus
    smallest = min(abs(row["imbalance"]) for row in step)
    step = [row for row in step if abs(row["imbalance"]) == smallest]
    # Step 3: market pressure
    if all(row["imbalance"] > 0 for row in step):
        chosen = max(step, key=lambda row: row["price"])
    elif all(row["imbalance"] < 0 for row in step):
        chosen = min(step, key=lambda row: row["price"])
    # Step 4: nearest the reference, then the lower price
    elif reference is not None:
        chosen = min(
            step, key=lambda row: (abs(row["price"] - reference), row["price"])
        )
    else:
        chosen = min(step, key=lambda row: row["price"])
    imbalance = chosen["imbalance"]
    side = None if imbalance == 0 else (BUY if imbalance > 0 else SELL)
    return (chosen["price"], most, abs(imbalance), side)


order_rows = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.none() | st.integers(95, 105),
        st.integers(1, 9),
        st.none() | st.integers(50, 900),
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(
    rows=order_rows,
    reference=st.none() | st.integers(93, 107),
    book_class=st.sampled_from([OrderBook, ReferenceBook]),
)
def test_uncross_matches_the_literal_rule(rows, reference, book_class) -> None:
    # Given random orders from distinct owners (no self-trade) in a call
    orders = []
    for number, (side, price, quantity, quote) in enumerate(rows, start=1):
        quote = quote if side is BUY and price is None else None
        orders.append(
            Place(
                number, number, side, MARKET if price is None else OrderType.LIMIT,
                price, quantity if quote is None or number % 2 else None,
                quote_limit=quote,
            )
        )  # fmt: skip
    book = call_book(book_class, orders, reference)
    expected = literal_uncross(orders, reference)
    # Then the published result is the literal rule's
    assert indicative(book) == expected
    # When it uncrosses
    events = book.process(Uncross())
    got = [e for e in events if isinstance(e, Trade)]
    # Then it trades the volume at the one price, and leaves no cross; a
    # market buy bounded by quote buys fewer lots at a higher price, so what it
    # leaves may cross at another price: a second round trades that
    assert not book.is_crossed()
    if got:
        assert got[0].price == expected[0]
    quoted = any(o.quote_limit is not None for o in orders)
    if not quoted:
        assert {t.price for t in got} <= {expected[0]}
        assert sum(t.quantity for t in got) == expected[1]
    else:
        first = [t.quantity for t in got if t.price == expected[0]]
        assert sum(first) >= expected[1] or expected[0] is None
    # and every order's lots are conserved: filled + left = placed
    filled = {o.order_id: 0 for o in orders}
    for t in got:
        filled[t.maker_order_id] += t.quantity
        filled[t.taker_order_id] += t.quantity
    closed = {e.order_id: e for e in events if isinstance(e, OrderDone)}
    for o in orders:
        resting = book.get_order(o.order_id)
        if o.order_id in closed:
            assert closed[o.order_id].filled_quantity == filled[o.order_id]
            left = closed[o.order_id].remaining_quantity
        else:
            assert isinstance(resting, RestingOrder)
            left = resting.quantity
        if o.quantity is not None:
            assert filled[o.order_id] + left == o.quantity


# ---------------------------------------------------- volatility interruptions


def banded_book(book_class: type[Book]) -> Book:
    """Last trade 100, band 500 bps: fills may print in [95, 105]. Asks 101: #1
    2 lots, 104: #2 2 lots, 107: #3 3 lots."""
    book = book_class.from_resting(
        "TEST",
        [
            RestingOrder(1, 1, SELL, 101, 2),
            RestingOrder(2, 2, SELL, 104, 2),
            RestingOrder(3, 3, SELL, 107, 3),
        ],
        sequence=3,
        last_price=100,
    )
    assert book.process(SetBand(500)) == []
    return book


def test_a_fill_outside_the_band_starts_a_call(book_class) -> None:
    # Given the banded book
    book = banded_book(book_class)
    # When a buy at 110 for 6 lots walks the asks
    events = book.process(buy(9, 110, 6))
    # Then it fills at 101 and 104 (the band is around the last price as it
    # arrived), stops before 107, the call starts and its remainder rests
    assert events == [
        Accepted(3, 9, 9, True),
        Trade(4, 1, 9, 1, 9, 101, 2, BUY),
        OrderDone(4, 1, 1, DoneReason.FILLED, DoneDetail.NONE, 0, 2),
        LevelChanged(5, SELL, 101, 0),
        Trade(6, 2, 9, 2, 9, 104, 2, BUY),
        OrderDone(6, 2, 2, DoneReason.FILLED, DoneDetail.NONE, 0, 2),
        LevelChanged(7, SELL, 104, 0),
        PhaseChanged(7, Phase.CALL, "volatility"),
        LevelChanged(8, BUY, 110, 2),
        Indicative(8, 107, 2, 1, SELL),
    ]
    assert book.phase is Phase.CALL and book.is_crossed()
    # When the adapter later uncrosses
    events = book.process(Uncross())
    # Then the rest trades at 107 and continuous trading resumes
    assert trades(events) == [(3, 9, 107, 2)]
    assert done(events) == {9: ("filled", "", 0, 6)}
    assert book.phase is Phase.CONTINUOUS
    assert book.depth() == ([], [(107, 1)])


def test_a_market_order_interrupted_queues_with_its_fills(book_class) -> None:
    book = banded_book(book_class)
    events = book.process(buy(9, None, 6))
    assert events[0] == Accepted(3, 9, 9, True)
    assert [p.quantity for p in book.market_orders()] == [2]
    assert book.snapshot()["markets"] == [
        [9, 9, "buy", "market", None, 2, "ioc", False, None, None, "expire_taker",
         None, None, None, None, 4],
    ]  # fmt: skip
    # It survives a snapshot into the other book and trades in the uncross
    other = ReferenceBook if book_class is OrderBook else OrderBook
    restored = other.restore(json.loads(json.dumps(book.snapshot())))
    for each in (book, restored):
        events = each.process(Uncross())
        assert trades(events) == [(3, 9, 107, 2)]
        assert done(events) == {9: ("filled", "", 0, 6)}


def test_ioc_and_fok_at_the_band(book_class) -> None:
    # An IOC remainder expires once the call has started
    book = banded_book(book_class)
    ioc = Place(9, 9, BUY, price=110, quantity=6, time_in_force=TimeInForce.IOC)
    events = book.process(ioc)
    assert done(events)[9] == ("expired", "ioc", 2, 4)
    assert book.phase is Phase.CALL
    # A FOK that would need a fill outside the band is refused, without a trace
    book = banded_book(book_class)
    fok = Place(9, 9, BUY, price=110, quantity=5, time_in_force=TimeInForce.FOK)
    before = book.state_hash()
    assert rejections(book.process(fok)) == ["fok_not_fillable"]
    assert book.state_hash() == before
    # and one that fills inside it trades as usual
    fok = fok._replace(quantity=4)
    assert trades(book.process(fok)) == [(1, 9, 101, 2), (2, 9, 104, 2)]
    assert book.phase is Phase.CONTINUOUS


def test_the_band_reference_before_any_trade_and_both_edges(book_class) -> None:
    # Given no trade yet, a band of 10% around the reference 100: [90, 110]
    book = book_class.from_resting(
        "TEST", [RestingOrder(1, 1, SELL, 89, 1), RestingOrder(2, 2, BUY, 80, 1)]
    )
    # (a crossed-looking book is impossible here: 80 < 89)
    assert rejections(book.process(SetBand(1000, 100))) == []
    # When a buy meets an ask below the band's low edge
    events = book.process(buy(9, 95, 1))
    # Then no fill prints: the call starts at once
    assert trades(events) == []
    assert [e for e in events if isinstance(e, PhaseChanged)] == [
        PhaseChanged(0, Phase.CALL, "volatility")
    ]
    assert book.snapshot()["band_bps"] == 1000
    assert book.snapshot()["reference"] == 100
    # Band limits are checked
    assert rejections(book.process(SetBand(10_000))) == ["invalid_band"]
    assert rejections(book.process(SetBand(0))) == ["invalid_band"]
    assert rejections(book.process(SetBand(None, 0))) == ["invalid_band"]
    assert rejections(book.process(SetBand(None))) == []
    assert book.snapshot()["band_bps"] is None


# ------------------------------------------------------------ replay, seeded


def auction_stream(count: int, seed: int) -> list[object]:
    """Seeded traffic with calls, uncrosses (into each phase), bands and halts
    among limit, market, stop, cancel and amend commands."""
    rng = random.Random(seed)
    commands: list[object] = [SetBand(300, 100)]
    next_id = 0
    for _ in range(count):
        roll = rng.random()
        next_id += 1
        side = rng.choice((BUY, SELL))
        owner = rng.randint(1, 6)
        if roll < 0.55:
            tif = rng.choice((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC))
            commands.append(
                Place(
                    next_id, owner, side, price=rng.randint(92, 108),
                    quantity=rng.randint(1, 9), time_in_force=tif,
                    stp=rng.choice(list(STP)),
                )
            )  # fmt: skip
        elif roll < 0.63:
            commands.append(
                Place(next_id, owner, side, MARKET, quantity=rng.randint(1, 9))
            )
        elif roll < 0.68:
            commands.append(
                Place(
                    next_id, owner, side, OrderType.STOP_MARKET,
                    quantity=rng.randint(1, 5), stop_price=rng.randint(95, 105),
                )
            )  # fmt: skip
        elif roll < 0.80:
            commands.append(Cancel(rng.randint(max(1, next_id - 50), next_id)))
        elif roll < 0.86:
            commands.append(
                Amend(rng.randint(max(1, next_id - 50), next_id), rng.randint(92, 108))
            )
        elif roll < 0.92:
            commands.append(SetPhase(rng.choice(list(Phase))))
        elif roll < 0.98:
            commands.append(Uncross(rng.choice(list(Phase))))
        else:
            commands.append(SetBand(rng.choice((None, 100, 300, 800))))
    return commands


def test_a_seeded_auction_stream_replays_on_both_books() -> None:
    # Given a seeded stream with every auction command
    commands = auction_stream(3_000, 11)
    fast = OrderBook("AUCTION")
    events = fast.process_many(commands)  # type: ignore[arg-type]
    # Then the reference book gives the very same events and state
    reference = ReferenceBook("AUCTION")
    assert reference.process_many(commands) == events  # type: ignore[arg-type]
    assert reference.state_hash() == fast.state_hash()
    # and the stream exercises what it is for
    auction_trades = [e for e in events if isinstance(e, Trade) and e.auction]
    reasons = {e.reason for e in events if isinstance(e, PhaseChanged)}
    assert len(auction_trades) > 50
    assert reasons == {"command", "uncross", "volatility"}
    # When it is replayed, cut in two by a snapshot through JSON
    half = OrderBook("AUCTION")
    first = half.process_many(commands[:1_500])  # type: ignore[arg-type]
    restored = OrderBook.restore(json.loads(json.dumps(half.snapshot())))
    second = restored.process_many(commands[1_500:])  # type: ignore[arg-type]
    # Then the same events and the same final hash
    assert first + second == events
    assert restored.state_hash() == fast.state_hash()
