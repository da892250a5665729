"""The matcher follows the instrument's session (docs/sessions.md, docs/trading.md
"Sessions"): orders collect in pre-open without trading, the opening auction
uncrosses at one price, continuous trading, the closing auction, closed; a
restart in the middle of a call resumes it; each transition applied once."""

from __future__ import annotations

from datetime import time

import pytest
import time_machine
from django.test import Client

from calendars.models import InstrumentSession, SessionTransition
from calendars.services import instrument_calendar_set
from calendars.tests.helpers import make_berlin, utc
from config.domain_errors import Conflict
from kyc.testing import make_verified_user
from trading.engine import Phase
from trading.models import Fill, Order, Trade
from trading.services import matching_run, order_place
from trading.services.matching import matching_sweep
from trading.state import matcher_state
from trading.tests.helpers import assert_ledger_ok, balances, fund, make_btc_usd

pytestmark = pytest.mark.django_db(transaction=False)

BTC = 10**8
USD = 100


def make_kolkata():
    """NSE-like, Asia/Kolkata (+05:30, no DST), Mon-Fri: pre-open 09:00 (03:30
    UTC), opening call 09:08, continuous 09:15 (03:45 UTC), pre-close 15:30,
    closing call 15:40 (10:10 UTC), close 16:00 (10:30 UTC); no random ends."""
    return make_berlin(
        code="xnse",
        name="NSE-like",
        time_zone="Asia/Kolkata",
        pre_open_start=time(9, 0),
        opening_auction_start=time(9, 8),
        continuous_start=time(9, 15),
        opening_random_seconds=0,
        pre_close_start=time(15, 30),
        closing_auction_start=time(15, 40),
        close=time(16, 0),
        closing_random_seconds=0,
    )


@pytest.fixture
def kolkata_market():
    instrument = instrument_calendar_set(
        instrument=make_btc_usd(),
        calendar=make_kolkata(),
        acting_user=None,
        volatility_band_bps=0,
        volatility_call_seconds=120,
        volatility_random_seconds=30,
    )
    seller = make_verified_user(email="seller@example.com")
    first = make_verified_user(email="first@example.com")
    second = make_verified_user(email="second@example.com")
    fund(seller, instrument.base, 2 * BTC)
    fund(first, instrument.quote, 200_000 * USD)
    fund(second, instrument.quote, 200_000 * USD)
    return instrument, seller, first, second


def run(instrument, when):
    """A matching run at `when` (the clock travels there too)."""
    with time_machine.travel(when, tick=False):
        while matching_run(instrument_id=instrument.pk, now=when).more:
            pass


def place(user, when, **body):
    with time_machine.travel(when, tick=False):
        order, _ = order_place(user=user, symbol="BTC-USD", **body)
    return order


def phase(instrument) -> str:
    return InstrumentSession.objects.get(instrument=instrument).phase


def test_a_calendar_day_pre_open_auctions_continuous_closed(kolkata_market):  # noqa: PLR0915
    instrument, seller, first, second = kolkata_market
    day = (2026, 12, 8)  # a Tuesday

    # Pre-open: crossed orders collect, nothing trades.
    sell = place(seller, utc(*day, 3, 31), side="sell", price="95000", quantity="0.5")
    buy1 = place(first, utc(*day, 3, 32), side="buy", price="96000", quantity="0.3")
    run(instrument, utc(*day, 3, 32))
    assert phase(instrument) == "pre_open"
    assert Trade.objects.count() == 0
    sell.refresh_from_db()
    buy1.refresh_from_db()
    assert (sell.status, buy1.status) == (Order.Status.OPEN, Order.Status.OPEN)

    # A restart in the call: the rebuilt book comes back in the call (crossed,
    # not halted, nothing traded), and no transition is recorded again.
    matcher_state.forget(instrument.pk)
    place(second, utc(*day, 3, 40), side="buy", price="95500", quantity="0.1")
    run(instrument, utc(*day, 3, 40))
    assert matcher_state.books[instrument.pk][1].phase is Phase.CALL
    instrument.refresh_from_db()
    assert instrument.status == "trading"
    assert Trade.objects.count() == 0
    assert list(
        SessionTransition.objects.filter(instrument=instrument)
        .order_by("pk")
        .values_list("old_phase", "new_phase")
    ) == [("", "pre_open"), ("pre_open", "opening_auction")]
    assert balances(first) == {"USD": (200_000_00 - 28_800_00, 28_800_00)}

    # The sweeper wakes the instrument when the opening uncross is due.
    with time_machine.travel(utc(*day, 3, 45, 1), tick=False):
        assert instrument.pk in matching_sweep()

    # The opening uncross: one price, 95000 (largest volume 40 lots at 95000
    # and 95500, sell surplus at both: the lower), each side its maker rate.
    run(instrument, utc(*day, 3, 45, 1))
    run(instrument, utc(*day, 3, 45, 2))  # again: nothing applied twice
    assert phase(instrument) == "continuous"
    trades = list(Trade.objects.order_by("seq"))
    assert [(t.price_ticks, t.quantity_lots) for t in trades] == [
        (95000, 30),
        (95000, 10),
    ]
    assert [(t.buyer_fee, t.seller_fee) for t in trades] == [
        (30_000, 28_50),
        (10_000, 9_50),
    ]
    assert set(Fill.objects.values_list("liquidity", flat=True)) == {"auction"}
    assert [t.auction for t in trades] == [True, True]
    assert balances(first) == {
        "USD": (200_000_00 - 28_500_00, 0),
        "BTC": (29_970_000, 0),
    }
    assert balances(second) == {
        "USD": (200_000_00 - 9_500_00, 0),
        "BTC": (9_990_000, 0),
    }
    assert balances(seller) == {
        "BTC": (150_000_000, 10_000_000),
        "USD": (28_500_00 - 28_50 + 9_500_00 - 9_50, 0),
    }
    assert_ledger_ok()

    # Continuous trading: a buy takes the rest at once (taker 0.20%).
    place(second, utc(*day, 4, 0), side="buy", price="95000", quantity="0.1")
    run(instrument, utc(*day, 4, 0))
    assert Trade.objects.count() == 3
    assert balances(second) == {
        "USD": (200_000_00 - 19_000_00, 0),
        "BTC": (19_970_000, 0),
    }
    sell.refresh_from_db()
    assert sell.status == Order.Status.FILLED

    # Pre-close collects; the closing uncross at close: 20 lots, 94000 and
    # 95000 tie on volume and surplus: the one nearest the last price, 95000.
    place(seller, utc(*day, 10, 5), side="sell", price="94000", quantity="0.2")
    place(first, utc(*day, 10, 6), side="buy", price="95000", quantity="0.2")
    run(instrument, utc(*day, 10, 6))
    assert phase(instrument) == "pre_close"
    assert Trade.objects.count() == 3
    run(instrument, utc(*day, 10, 30, 1))
    assert phase(instrument) == "closed"
    last = Trade.objects.order_by("seq").last()
    assert (last.price_ticks, last.quantity_lots) == (95000, 20)
    assert (last.buyer_fee, last.seller_fee) == (20_000, 19_00)
    assert balances(first) == {
        "USD": (200_000_00 - 28_500_00 - 19_000_00, 0),
        "BTC": (29_970_000 + 19_980_000, 0),
    }
    assert balances(seller) == {
        "BTC": (130_000_000, 0),
        "USD": (28_500_00 - 28_50 + 2 * (9_500_00 - 9_50) + 19_000_00 - 19_00, 0),
    }

    # Closed: the engine rejects a new order (market_closed), its hold released.
    late = place(first, utc(*day, 10, 40), side="buy", price="95000", quantity="0.1")
    run(instrument, utc(*day, 10, 40))
    late.refresh_from_db()
    assert (late.status, late.reason) == (Order.Status.REJECTED, "market_closed")
    assert balances(first)["USD"] == (200_000_00 - 47_500_00, 0)
    assert SessionTransition.objects.filter(instrument=instrument).count() == 6
    assert_ledger_ok()


def test_a_restart_in_the_closed_phase_keeps_the_book_closed(kolkata_market):
    instrument, seller, first, _ = kolkata_market
    run(instrument, utc(2026, 12, 8, 11, 0))  # after the close: starts closed
    assert phase(instrument) == "closed"
    matcher_state.forget(instrument.pk)
    order = place(
        seller, utc(2026, 12, 8, 11, 5), side="sell", price="95000", quantity="0.1"
    )
    run(instrument, utc(2026, 12, 8, 11, 5))
    order.refresh_from_db()
    assert (order.status, order.reason) == (Order.Status.REJECTED, "market_closed")
    assert balances(seller) == {"BTC": (2 * BTC, 0)}


def test_a_market_order_queued_in_pre_open_survives_a_restart(kolkata_market):
    instrument, seller, first, _ = kolkata_market
    day = (2026, 12, 8)
    place(seller, utc(*day, 3, 31), side="sell", price="95000", quantity="0.2")
    market = place(first, utc(*day, 3, 32), side="buy", type="market", quantity="0.1")
    run(instrument, utc(*day, 3, 32))
    market.refresh_from_db()
    assert market.status == Order.Status.OPEN  # queued for the uncross
    matcher_state.forget(instrument.pk)
    run(instrument, utc(*day, 3, 45, 1))  # rebuilt in the call, then uncrossed
    market.refresh_from_db()
    assert market.status == Order.Status.FILLED
    trade = Trade.objects.get()
    assert (trade.price_ticks, trade.quantity_lots) == (95000, 10)
    assert balances(first) == {"USD": (200_000_00 - 9_500_00, 0), "BTC": (9_990_000, 0)}
    assert balances(seller) == {
        "BTC": (180_000_000, 10_000_000),
        "USD": (9_500_00 - 9_50, 0),
    }
    assert_ledger_ok()


@pytest.mark.parametrize(
    ("taker", "open_lots", "status"),
    [
        ({"price": "97000", "quantity": "0.2"}, 10, "filled"),
        ({"type": "market", "quantity": "0.2"}, 10, "filled"),
        # 9,500.00 spent at 95000, 9,700.00 left: one more lot of 0.1 at 97000;
        # a quote-bounded market order left after the uncross expires (engine)
        ({"type": "market", "quote_quantity": "19200"}, 0, "expired"),
    ],
    ids=["limit rests", "market queues", "market by quote queues"],
)
def test_a_trade_out_of_the_band_starts_a_volatility_call_uncrossed_when_due(
    make_trader, btc_usd, taker, open_lots, status
):
    """No calendar, a 1% band (95000 +/- 950), a 120 s call, no random end. The
    taker's remainder joins the call (a limit rests, a market order queues with
    what it has left) and survives a restart in the call."""
    instrument = instrument_calendar_set(
        instrument=btc_usd,
        calendar=None,
        acting_user=None,
        volatility_band_bps=100,
        volatility_call_seconds=120,
        volatility_random_seconds=0,
    )
    seller = make_trader("seller@example.com", btc=2 * BTC)
    buyer = make_trader("buyer@example.com", usd=200_000 * USD)
    start = utc(2026, 12, 8, 12, 0)
    place(seller, start, side="sell", price="95000", quantity="0.2")
    place(buyer, start, side="buy", price="95000", quantity="0.1")
    run(instrument, start)  # the last price: 95000
    place(seller, start, side="sell", price="97000", quantity="0.1")
    buy = place(buyer, start, side="buy", **taker)
    run(instrument, start)
    # 0.1 at 95000 in the band; 97000 is out of it: the call starts, the rest rests
    assert [t.price_ticks for t in Trade.objects.order_by("seq")] == [95000, 95000]
    session = InstrumentSession.objects.get(instrument=instrument)
    assert session.phase == "volatility_auction"
    assert session.call_ends_at == utc(2026, 12, 8, 12, 2)
    buy.refresh_from_db()
    assert (buy.status, buy.open_lots) == (Order.Status.PARTIALLY_FILLED, open_lots)

    run(instrument, utc(2026, 12, 8, 12, 1, 59))  # not due yet: nothing
    assert Trade.objects.count() == 2
    matcher_state.forget(instrument.pk)  # a restart in the call keeps it
    with time_machine.travel(utc(2026, 12, 8, 12, 2), tick=False):
        assert instrument.pk in matching_sweep()
    run(instrument, utc(2026, 12, 8, 12, 2))
    last = Trade.objects.order_by("seq").last()
    assert (last.price_ticks, last.quantity_lots) == (97000, 10)
    assert (last.buyer_fee, last.seller_fee) == (10_000, 9_70)  # maker rates
    assert phase(instrument) == "continuous"
    buy.refresh_from_db()
    assert (buy.status, buy.filled_lots) == (status, 20)
    # buyer: 0.1 + 0.1 at 95000 as the taker (20_000 sat each), 0.1 at 97000 in
    # the auction at the maker rate (10_000)
    assert balances(buyer) == {
        "USD": (200_000_00 - 9_500_00 * 2 - 9_700_00, 0),
        "BTC": (30_000_000 - 20_000 - 20_000 - 10_000, 0),
    }
    assert_ledger_ok()


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_ioc_and_fok_are_refused_at_placement_during_a_call(kolkata_market, tif):
    instrument, seller, first, _ = kolkata_market
    day = (2026, 12, 8)
    place(seller, utc(*day, 3, 31), side="sell", price="95000", quantity="0.1")
    run(instrument, utc(*day, 3, 31))  # the session enters pre-open
    with pytest.raises(Conflict) as refused:
        place(
            first,
            utc(*day, 3, 32),
            side="buy",
            price="95000",
            quantity="0.1",
            time_in_force=tif,
        )
    assert refused.value.code == "time_in_force_not_in_call"
    assert refused.value.details["phase"] == ["pre_open"]
    assert "during pre_open" in refused.value.message
    assert Order.objects.filter(user=first).count() == 0
    assert balances(first) == {"USD": (200_000_00, 0)}

    run(instrument, utc(*day, 3, 45, 1))  # continuous: accepted and traded
    order = place(
        first,
        utc(*day, 3, 50),
        side="buy",
        price="95000",
        quantity="0.1",
        time_in_force=tif,
    )
    run(instrument, utc(*day, 3, 50))
    order.refresh_from_db()
    assert order.status == Order.Status.FILLED


# --- DAY orders and auction trades (issue 25) -------------------------------------


def _order_events(user) -> list[tuple[str, str]]:
    """(status, reason) of the user's order events on the stream, oldest first."""
    from marketdata.models import UserEvent

    return [
        (e.data["order"]["status"], e.data["order"]["reason"])
        for e in UserEvent.objects.filter(user=user, type="order").order_by("pk")
    ]


def test_a_day_order_expires_at_the_close_and_a_gtc_one_carries_over(
    kolkata_market,
):
    instrument, seller, first, second = kolkata_market
    day = (2026, 12, 8)
    # Given, in the pre-close call, a DAY bid and a GTC bid (nothing crosses)
    place(seller, utc(*day, 10, 5), side="sell", price="97000", quantity="0.1")
    day_bid = place(
        first, utc(*day, 10, 6), side="buy", price="90000", quantity="0.2",
        time_in_force="day",
    )  # fmt: skip
    gtc_bid = place(second, utc(*day, 10, 6), side="buy", price="90000", quantity="0.1")
    run(instrument, utc(*day, 10, 6))
    assert phase(instrument) == "pre_close"
    day_bid.refresh_from_db()
    assert (day_bid.status, day_bid.time_in_force) == (Order.Status.OPEN, "day")
    assert balances(first) == {"USD": (200_000_00 - 18_000_00, 18_000_00)}

    # When the closing call and the close come (one run, both transitions)
    run(instrument, utc(*day, 10, 30, 1))
    assert phase(instrument) == "closed"

    # Then the DAY order expired (reason day), its whole hold back to available
    day_bid.refresh_from_db()
    assert (day_bid.status, day_bid.reason, day_bid.open_lots) == (
        Order.Status.EXPIRED,
        "day",
        0,
    )
    assert balances(first) == {"USD": (200_000_00, 0)}
    assert _order_events(first)[-1] == ("expired", "day")
    assert list(day_bid.history.order_by("pk").values_list("to_status", "reason"))[
        -1
    ] == ("expired", "day")
    # And the GTC ones carry over into the next day, holds untouched
    gtc_bid.refresh_from_db()
    assert gtc_bid.status == Order.Status.OPEN
    assert balances(second) == {"USD": (200_000_00 - 9_000_00, 9_000_00)}
    run(instrument, utc(2026, 12, 9, 3, 31))
    assert phase(instrument) == "pre_open"
    gtc_bid.refresh_from_db()
    assert gtc_bid.status == Order.Status.OPEN
    assert Order.objects.filter(status=Order.Status.OPEN).count() == 2
    assert Trade.objects.count() == 0
    assert_ledger_ok()


def test_a_day_order_partly_filled_in_the_closing_auction_expires_after_a_restart(
    kolkata_market,
):
    from accounts.testing import api_client_for
    from marketdata.selectors import trade_list_recent

    instrument, seller, first, _ = kolkata_market
    day = (2026, 12, 8)
    # Given a DAY buy of 0.3 at 95000 and a sell of 0.1 at 94000 in pre-close
    place(seller, utc(*day, 10, 5), side="sell", price="94000", quantity="0.1")
    day_bid = place(
        first, utc(*day, 10, 6), side="buy", price="95000", quantity="0.3",
        time_in_force="day",
    )  # fmt: skip
    run(instrument, utc(*day, 10, 6))
    assert Trade.objects.count() == 0
    # And a restart before the close: the book is rebuilt from the rows
    matcher_state.forget(instrument.pk)

    # When the closing auction uncrosses at the close
    run(instrument, utc(*day, 10, 30, 1))

    # Then 0.1 traded in the auction (both sides at the maker rate), and the
    # DAY order expired for its remainder, the rest of its hold released
    trade = Trade.objects.get()
    assert (trade.price_ticks, trade.quantity_lots, trade.auction) == (95000, 10, True)
    assert (trade.buyer_fee, trade.seller_fee) == (10_000, 9_50)
    assert sorted(trade.fills.values_list("liquidity", flat=True)) == [
        "auction",
        "auction",
    ]
    day_bid.refresh_from_db()
    assert (day_bid.status, day_bid.reason) == (Order.Status.EXPIRED, "day")
    assert (day_bid.filled_lots, day_bid.open_lots) == (10, 0)
    assert balances(first) == {
        "USD": (200_000_00 - 9_500_00, 0),
        "BTC": (10_000_000 - 10_000, 0),
    }
    assert _order_events(first)[-1] == ("expired", "day")
    # And every reader says "auction": the fills API, the stream, the tape
    fills = api_client_for(first).get("/api/v1/fills").json()["results"]
    assert [f["liquidity"] for f in fills] == ["auction"]
    from marketdata.models import UserEvent

    streamed = UserEvent.objects.filter(user=first, type="fill").get()
    assert streamed.data["fill"]["liquidity"] == "auction"
    assert trade_list_recent(instrument=instrument, limit=5)[0]["auction"] is True
    # the pages too: the fills page and its CSV, the orders history's reason
    page = Client()
    page.force_login(first, backend="accounts.backends.EmailBackend")
    assert "<td>Auction</td>" in page.get("/trading/fills/").content.decode()
    csv = b"".join(page.get("/trading/fills.csv").streaming_content).decode()
    assert csv.splitlines()[1].split(",")[1:4] == ["BTC-USD", "buy", "auction"]
    orders_page = page.get("/trading/orders/").content.decode()
    assert "day order: the market closed" in orders_page
    assert_ledger_ok()


def test_an_operator_halt_over_the_close_leaves_day_orders_until_the_resume(
    kolkata_market,
):
    from calendars.services import session_halt, session_resume

    instrument, _, first, _ = kolkata_market
    day = (2026, 12, 8)
    day_bid = place(
        first, utc(*day, 10, 6), side="buy", price="90000", quantity="0.1",
        time_in_force="day",
    )  # fmt: skip
    run(instrument, utc(*day, 10, 6))
    with time_machine.travel(utc(*day, 10, 7), tick=False):
        session_halt(instrument=instrument, acting_user=None, reason="news")
    # a halt is no close: the DAY order stays, past the scheduled close
    run(instrument, utc(*day, 10, 31))
    day_bid.refresh_from_db()
    assert (phase(instrument), day_bid.status) == ("pre_close", Order.Status.OPEN)
    # the resume applies the missed transitions, the close last: it expires
    with time_machine.travel(utc(*day, 10, 40), tick=False):
        session_resume(instrument=instrument, acting_user=None, reason="over")
    run(instrument, utc(*day, 10, 40))
    day_bid.refresh_from_db()
    assert (phase(instrument), day_bid.status, day_bid.reason) == (
        "closed",
        Order.Status.EXPIRED,
        "day",
    )
    assert balances(first) == {"USD": (200_000_00, 0)}


def test_day_is_refused_without_a_calendar(make_trader, btc_usd):
    from config.domain_errors import ApplicationError

    # Given BTC-USD without a calendar: a DAY order there would never end
    buyer = make_trader("buyer@example.com", usd=200_000 * USD)
    with pytest.raises(ApplicationError) as refused:
        place(buyer, utc(2026, 12, 8, 4, 0), side="buy", price="95000",
              quantity="0.1", time_in_force="day")  # fmt: skip
    assert refused.value.code == "day_needs_calendar"
    assert refused.value.message == (
        "time_in_force: day needs a trading calendar and BTC-USD has none (it "
        "trades around the clock); use gtc or gtd."
    )
    assert list(refused.value.details) == ["time_in_force"]
    assert Order.objects.filter(user=buyer).count() == 0
    assert balances(buyer) == {"USD": (200_000_00, 0)}


def test_a_market_order_cannot_be_day(kolkata_market):
    from config.domain_errors import ApplicationError

    _, _, first, _ = kolkata_market
    with pytest.raises(ApplicationError) as market:
        place(first, utc(2026, 12, 8, 4, 0), side="buy", type="market",
              quantity="0.1", time_in_force="day")  # fmt: skip
    assert (market.value.code, market.value.message) == (
        "invalid_order",
        "time_in_force: day is only for limit and stop orders.",
    )
    assert Order.objects.filter(user=first).count() == 0
