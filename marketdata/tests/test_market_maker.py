"""The market maker: the pure ladder arithmetic, then one refresh cycle (and the
loop) against the real order services, holds and ledger."""

import asyncio
import random
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from calendars.services import instrument_calendar_set
from calendars.tests.helpers import advance, make_berlin, utc
from kyc.testing import make_verified_user
from marketdata.feeds import ReplayFeed
from marketdata.marketmaker import (
    BUY,
    SELL,
    LadderSpec,
    LiveQuote,
    MarketMaker,
    MarketSettings,
    Quote,
    cross_side,
    ladder_compute,
    ladder_diff,
    market_maker_run,
    reference_to_ticks,
    spacing_ticks_for,
)
from trading.models import Instrument, Order, Trade
from trading.services import instrument_set_status, order_place
from trading.tests.helpers import assert_ledger_ok, balances, fund, make_btc_usd, match

# --- Pure functions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "price, expected",
    [
        ("95000.10", 95000),
        ("95000.50", 95000),  # half to even
        ("95001.50", 95002),
        ("95000.51", 95001),
        ("0.001", 1),  # never below one tick
    ],
)
def test_reference_to_ticks(price, expected):
    assert reference_to_ticks(Decimal(price), tick_size=100, quote_decimals=2) == (
        expected
    )


def test_reference_to_ticks_with_a_fine_tick():
    # ETH-USD style: tick 0.10 USD = 10 units
    assert reference_to_ticks(Decimal("3342.57"), tick_size=10, quote_decimals=2) == (
        33426
    )


def test_spacing_ticks_for():
    assert spacing_ticks_for(95000, bps=3) == 28
    assert spacing_ticks_for(50, bps=3) == 1


def spec(**kw):
    return LadderSpec(**{"levels": 3, "spacing_ticks": 10, "lots_per_level": 2, **kw})


def ladder(**kw):
    args = {
        "reference_ticks": 1004,
        "spec": spec(),
        "base_lots": 1000,
        "quote_budget": 10**12,
        "notional_per_tick_lot": 1,
        **kw,
    }
    return [(q.side, q.level, q.price_ticks, q.lots) for q in ladder_compute(**args)]


def test_ladder_is_on_a_grid_around_the_reference():
    assert ladder() == [
        (BUY, 1, 990, 2),
        (BUY, 2, 980, 2),
        (BUY, 3, 970, 2),
        (SELL, 1, 1010, 2),
        (SELL, 2, 1020, 2),
        (SELL, 3, 1030, 2),
    ]
    # the centre is the nearest grid point: 1005 rounds up to 1010
    assert [q[2] for q in ladder(reference_ticks=1005)] == [
        1000,
        990,
        980,
        1020,
        1030,
        1040,
    ]


def test_ladder_respects_max_inventory_and_the_base_it_can_sell():
    # holds 7 lots, may hold 10: 3 lots of bids (2 + 1); sells at most the 7
    assert ladder(spec=spec(max_inventory_lots=10), base_lots=7) == [
        (BUY, 1, 990, 2),
        (BUY, 2, 980, 1),
        (SELL, 1, 1010, 2),
        (SELL, 2, 1020, 2),
        (SELL, 3, 1030, 2),
    ]
    # at the cap: no bids at all; with 3 lots: asks of 2 and 1
    assert ladder(spec=spec(max_inventory_lots=3), base_lots=3) == [
        (SELL, 1, 1010, 2),
        (SELL, 2, 1020, 1),
    ]


def test_ladder_bids_fit_the_quote_budget_exactly():
    # 990*2 + 980*2 = 3940 units; 1000 more buys one lot at 970 (970), not two
    budget = 990 * 2 + 980 * 2 + 1000
    assert [q for q in ladder(quote_budget=budget) if q[0] == BUY] == [
        (BUY, 1, 990, 2),
        (BUY, 2, 980, 2),
        (BUY, 3, 970, 1),
    ]
    # with notional per tick x lot of 3 units, everything costs three times more
    assert [
        q
        for q in ladder(quote_budget=990 * 2 * 3, notional_per_tick_lot=3)
        if q[0] == BUY
    ] == [(BUY, 1, 990, 2)]


def test_ladder_leaves_out_levels_below_the_minimums_or_outside_the_band():
    # min_lots 2 drops the 1-lot remainder; min_notional 2000 drops 990*2=1980
    assert ladder(spec=spec(max_inventory_lots=1003), min_lots=2) == [
        (BUY, 1, 990, 2),
        (SELL, 1, 1010, 2),
        (SELL, 2, 1020, 2),
        (SELL, 3, 1030, 2),
    ]
    assert [q[2] for q in ladder(min_notional=2000)] == [1010, 1020, 1030]
    assert [q[2] for q in ladder(band=(975, 1025))] == [990, 980, 1010, 1020]
    # near zero: no bid at a non-positive price
    assert [q[2] for q in ladder(reference_ticks=20)] == [10, 30, 40, 50]


def test_ladder_empty_for_a_useless_spec():
    assert ladder(spec=spec(levels=0)) == []
    assert ladder(spec=spec(lots_per_level=0)) == []


def test_diff_keeps_matching_orders_and_replaces_the_rest():
    desired = [
        Quote(BUY, 1, 1000, 2),
        Quote(BUY, 2, 990, 2),
        Quote(SELL, 1, 1020, 2),
        Quote(SELL, 2, 1030, 2),
    ]
    live = [
        LiveQuote(1, BUY, 990, 2),  # kept (now level 2)
        LiveQuote(2, BUY, 980, 2),  # not wanted any more
        LiveQuote(3, SELL, 1020, 1),  # partly filled: replaced
        LiveQuote(4, SELL, 1030, 2),  # kept
        LiveQuote(5, SELL, 1030, 2),  # a duplicate: cancelled
    ]
    cancel, place = ladder_diff(desired, live)
    assert [o.order_id for o in cancel] == [2, 3, 5]
    assert place == [Quote(BUY, 1, 1000, 2), Quote(SELL, 1, 1020, 2)]
    assert ladder_diff(desired, []) == ([], desired)


def test_cross_side_leans_towards_the_reference():
    rng = random.Random(7)
    up = [cross_side(rng=rng, reference_ticks=1010, best_bid=990, best_ask=1010)]
    up += [
        cross_side(rng=rng, reference_ticks=1010, best_bid=990, best_ask=1010)
        for _ in range(199)
    ]
    assert 0.6 < up.count(BUY) / 200 < 0.8
    down = [
        cross_side(rng=rng, reference_ticks=980, best_bid=990, best_ask=1010)
        for _ in range(200)
    ]
    assert 0.2 < down.count(BUY) / 200 < 0.4


# --- Against the real services -----------------------------------------------------

SETTINGS = MarketSettings(
    levels=3, spacing_ticks=10, size="0.05", max_inventory="2", cross_size="0.02"
)


@pytest.fixture
def market(db):
    instrument = make_btc_usd()
    maker = make_verified_user(email="mm@example.com")
    taker = make_verified_user(email="mmx@example.com")
    for user in (maker, taker):
        fund(user, instrument.base, 1 * 10**8)  # 1 BTC
        fund(user, instrument.quote, 1_000_000_00)  # 1,000,000.00 USD
    bot = MarketMaker(
        maker=maker,
        taker=taker,
        markets={"BTC-USD": SETTINGS},
        rng=random.Random(1),
    )
    return instrument, bot


def open_ladder(user):
    return sorted(
        (o.side, o.price_ticks, o.open_lots, o.status, o.client_order_id)
        for o in Order.objects.filter(user=user, status__in=Order.OPEN_STATUSES)
    )


def test_one_refresh_places_the_ladder_with_holds(market):
    instrument, bot = market
    result = bot.refresh("BTC-USD", Decimal("95004.40"))
    match(instrument)
    assert (len(result.placed), result.cancelled, result.kept) == (6, [], 0)
    assert open_ladder(bot.maker) == [
        ("buy", 94970, 5, "open", "mm:BTC-USD:b94970:5"),
        ("buy", 94980, 5, "open", "mm:BTC-USD:b94980:3"),
        ("buy", 94990, 5, "open", "mm:BTC-USD:b94990:1"),
        ("sell", 95010, 5, "open", "mm:BTC-USD:s95010:2"),
        ("sell", 95020, 5, "open", "mm:BTC-USD:s95020:4"),
        ("sell", 95030, 5, "open", "mm:BTC-USD:s95030:6"),
    ]
    # buys hold price x quantity in USD: (94990 + 94980 + 94970) x 0.05 = 14,247.00;
    # sells hold the BTC: 3 x 0.05
    assert balances(bot.maker) == {
        "USD": (1_000_000_00 - 14_247_00, 14_247_00),
        "BTC": (85_000_000, 15_000_000),
    }
    assert Trade.objects.count() == 0
    assert_ledger_ok()


def test_a_reference_move_replaces_only_the_changed_levels(market):
    instrument, bot = market
    bot.refresh("BTC-USD", Decimal("95000"))
    match(instrument)
    before = {o.price_ticks: o.pk for o in Order.objects.filter(user=bot.maker)}

    # a move smaller than half a step changes nothing
    quiet = bot.refresh("BTC-USD", Decimal("95004"))
    assert (quiet.placed, quiet.cancelled, quiet.kept) == ([], [], 6)

    # one grid step up: the lowest bid and the nearest ask go, one of each comes
    moved = bot.refresh("BTC-USD", Decimal("95010"))
    match(instrument)
    assert sorted(moved.cancelled) == sorted([before[94970], before[95010]])
    assert (len(moved.placed), moved.kept) == (2, 4)
    assert [row[:3] for row in open_ladder(bot.maker)] == [
        ("buy", 94980, 5),
        ("buy", 94990, 5),
        ("buy", 95000, 5),
        ("sell", 95020, 5),
        ("sell", 95030, 5),
        ("sell", 95040, 5),
    ]
    cancelled = Order.objects.filter(pk__in=moved.cancelled)
    assert set(cancelled.values_list("status", flat=True)) == {"cancelled"}
    assert balances(bot.maker)["USD"][1] == (95000 + 94990 + 94980) * 5
    assert_ledger_ok()


def test_restart_adopts_the_live_ladder_and_continues_the_ids(market):
    instrument, bot = market
    bot.refresh("BTC-USD", Decimal("95000"))
    match(instrument)
    again = MarketMaker(maker=bot.maker, taker=bot.taker, markets={"BTC-USD": SETTINGS})
    result = again.refresh("BTC-USD", Decimal("95000"))
    assert (result.placed, result.cancelled, result.kept) == ([], [], 6)
    again.refresh("BTC-USD", Decimal("95010"))
    match(instrument)
    newest = Order.objects.filter(user=bot.maker).order_by("-id")
    assert [o.client_order_id for o in newest[:2]] == [
        "mm:BTC-USD:s95040:8",
        "mm:BTC-USD:b95000:7",
    ]


def test_a_partial_fill_is_topped_up_and_the_cross_prints_a_trade(market):
    instrument, bot = market
    bot.refresh("BTC-USD", Decimal("95000"))
    match(instrument)
    # someone buys 0.02 BTC from the best ask
    buyer = make_verified_user(email="buyer@example.com")
    fund(buyer, instrument.quote, 10_000_00)
    order_place(
        user=buyer,
        symbol="BTC-USD",
        side="buy",
        price="95010",
        quantity="0.02",
        time_in_force="ioc",
    )
    match(instrument)
    result = bot.refresh("BTC-USD", Decimal("95000"))
    match(instrument)
    assert (len(result.cancelled), len(result.placed), result.kept) == (1, 1, 5)
    assert ("sell", 95010, 5, "open") in [r[:4] for r in open_ladder(bot.maker)]

    cross_id = bot.cross("BTC-USD")
    match(instrument)
    cross = Order.objects.get(pk=cross_id)
    assert cross.user == bot.taker
    assert cross.client_order_id == "mmx:BTC-USD:1"
    assert cross.time_in_force == "ioc"
    assert cross.status == "filled"
    assert cross.price_ticks in (94990, 95010)
    assert Trade.objects.count() == 2
    assert_ledger_ok()


def test_inventory_cap_and_halted_instrument(market):
    instrument, bot = market
    # holds 1 BTC, may hold 1.05: one bid of 0.05 only
    bot.markets["BTC-USD"] = MarketSettings(
        levels=3, spacing_ticks=10, size="0.05", max_inventory="1.05"
    )
    bot.refresh("BTC-USD", Decimal("95000"))
    match(instrument)
    assert [r[:3] for r in open_ladder(bot.maker) if r[0] == "buy"] == [
        ("buy", 94990, 5)
    ]
    instrument_set_status(
        instrument=instrument, status=Instrument.Status.HALTED, reason="test"
    )
    result = bot.refresh("BTC-USD", Decimal("96000"))
    assert result.placed == [] and result.skipped == ["BTC-USD is halted"]
    assert bot.cross("BTC-USD") is None


def test_the_bot_follows_the_session_quotes_in_a_call_and_rests_when_closed(market):
    """A calendar instrument: closed, the bot sends nothing (the engine would
    refuse every quote); in the pre-open call it quotes (orders collect) but
    does not cross (an IOC is refused in a call); continuous, both."""
    instrument, bot = market
    instrument_calendar_set(
        instrument=instrument,
        calendar=make_berlin(),
        volatility_band_bps=0,
        volatility_call_seconds=120,
        volatility_random_seconds=0,
        acting_user=None,
    )
    closed = utc(2026, 12, 7, 5, 0)  # Monday 06:00 in Berlin
    advance(instrument, closed)
    with time_machine.travel(closed, tick=False):
        result = bot.refresh("BTC-USD", Decimal("95000"))
    assert result.placed == [] and result.skipped == ["BTC-USD: its session is closed"]
    assert not Order.objects.filter(user=bot.maker).exists()

    pre_open = utc(2026, 12, 7, 7, 0)  # 08:00, pre-open
    advance(instrument, pre_open)
    with time_machine.travel(pre_open, tick=False):
        assert len(bot.refresh("BTC-USD", Decimal("95000")).placed) == 6
        assert bot.cross("BTC-USD") is None
    assert not Order.objects.filter(user=bot.taker).exists()


@pytest.mark.django_db(transaction=True)
def test_the_loop_follows_a_replay_and_stops(tmp_path):
    instrument = make_btc_usd()
    maker = make_verified_user(email="mm@example.com")
    fund(maker, instrument.base, 1 * 10**8)
    fund(maker, instrument.quote, 1_000_000_00)
    path = tmp_path / "ref.jsonl"
    path.write_text(
        '{"time": 0, "symbol": "BTCUSDT", "price": "94000"}\n'
        '{"time": 10, "symbol": "BTCUSDT", "price": "95000.00"}\n'
    )
    bot = MarketMaker(maker=maker, markets={"BTC-USD": SETTINGS})
    cycles = []

    async def main():
        await market_maker_run(
            bot=bot,
            feed=ReplayFeed(path, symbol_map={"BTCUSDT": "BTC-USD"}, speed=0),
            stop=asyncio.Event(),
            refresh_seconds=0.01,
            cross_every=0,
            cancel_on_exit=True,
            on_cycle=lambda symbol, result: cycles.append((symbol, result)),
        )

    asyncio.run(main())  # ends by itself: the replay ended
    assert cycles and cycles[-1][0] == "BTC-USD"
    placed = Order.objects.filter(user=maker)
    assert sorted(placed.values_list("price_ticks", flat=True)) == [
        94970,
        94980,
        94990,
        95010,
        95020,
        95030,
    ]
    # cancel_on_exit: the ladder is gone, every hold released
    assert set(placed.values_list("status", flat=True)) == {"cancelled"}
    assert balances(maker) == {"USD": (1_000_000_00, 0), "BTC": (10**8, 0)}
    assert_ledger_ok()


@pytest.mark.django_db
def test_command_refuses_without_instruments_or_bot():
    with pytest.raises(CommandError, match="No instrument"):
        call_command("market_maker")
    make_btc_usd()
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("market_maker", "--symbol", "BTC-USD")
    with pytest.raises(CommandError, match="Unknown symbol"):
        call_command("market_maker", "--symbol", "DOGE-USD")
