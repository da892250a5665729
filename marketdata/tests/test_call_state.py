"""The session and a call's indicative uncross on the market stream and REST
(docs/sessions.md, "On the market stream, REST and the trade screen"): a
`phase` message when the session moves, an `indicative` one when the uncross
as it would be now changes (all null once nothing crosses or the call ends),
neither with a `seq`; the ticker and the snapshot carry both, from rows, so a
rebuilt book (a matcher restart) shows the same."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.test import Client

from calendars.services import instrument_calendar_set, session_extend, session_halt
from calendars.tests.helpers import utc
from marketdata.models import BookSnapshot
from marketdata.selectors import market_snapshot
from trading.services.matching import book_rebuild
from trading.state import matcher_state
from trading.tests.helpers import make_btc_usd
from trading.tests.test_sessions_matching import kolkata_market, place, run

pytestmark = pytest.mark.django_db(transaction=False)
__all__ = ["kolkata_market"]  # the fixture, used by name

DAY = (2026, 12, 8)  # a Tuesday


@pytest.fixture
def sent(monkeypatch):
    """What goes on the market groups after commit, as JSON messages."""
    messages: list[dict] = []

    def capture(group, message, *, alias="default"):
        if message["type"] == "market.control":
            messages.append(json.loads(message["body"]))

    monkeypatch.setattr("marketdata.publish.group_send", capture)
    return messages


def ticker(at=None) -> dict:
    with time_machine.travel(at or utc(*DAY, 3, 33), tick=False):
        response = Client().get("/api/v1/markets/BTC-USD/ticker")
    assert response.status_code == 200
    return response.json()


def test_an_instrument_without_a_calendar_is_continuous_without_indicative(db):
    # Given an instrument with no calendar (and no session row)
    make_btc_usd()
    # When its ticker and its stream snapshot are read
    body = ticker()
    snapshot = market_snapshot(symbol="BTC-USD")
    # Then both say continuous trading, nothing scheduled, no indicative price
    expected = {
        "phase": "continuous",
        "next_phase": None,
        "next_at": None,
        "halted": False,
    }
    assert (body["session"], body["indicative"]) == (expected, None)
    assert (snapshot["session"], snapshot["indicative"]) == (expected, None)


def test_a_call_publishes_its_phase_and_indicative_and_rest_shows_them(  # noqa: PLR0915
    kolkata_market, sent, django_capture_on_commit_callbacks
):
    instrument, seller, first, second = kolkata_market
    # Given crossed orders collected in pre-open (03:30 UTC in Kolkata)
    with django_capture_on_commit_callbacks(execute=True):
        place(seller, utc(*DAY, 3, 31), side="sell", price="95000", quantity="0.5")
        place(first, utc(*DAY, 3, 32), side="buy", price="96000", quantity="0.3")
        run(instrument, utc(*DAY, 3, 32))

    # Then the stream was told the phase (with the next transition), and the
    # uncross as it would be now: 0.3 at 95000 (sell surplus: lowest price)
    phases = [m for m in sent if m["type"] == "phase"]
    assert phases == [
        {
            "type": "phase",
            "symbol": "BTC-USD",
            "phase": "pre_open",
            "next_phase": "opening_auction",
            "next_at": "2026-12-08T03:38:00Z",
            "halted": False,
            "reason": "schedule",
            "time": "2026-12-08T03:32:00Z",
        }
    ]
    indicative = {
        "price": "95000.00",
        "quantity": "0.30000000",
        "surplus": "0.20000000",
        "surplus_side": "sell",
    }
    assert sent[-1] == {"type": "indicative", "symbol": "BTC-USD", **indicative}
    # and REST and the snapshot show the same
    session = {
        "phase": "pre_open",
        "next_phase": "opening_auction",
        "next_at": "2026-12-08T03:38:00Z",
        "halted": False,
    }
    body = ticker()
    assert (body["session"], body["indicative"]) == (session, indicative)
    snapshot = market_snapshot(symbol="BTC-USD")
    assert (snapshot["session"], snapshot["indicative"]) == (session, indicative)

    # When a buy that changes nothing at the uncross price arrives, nothing is
    # published; one that does (more volume) publishes the new indicative
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        place(second, utc(*DAY, 3, 34), side="buy", price="94000", quantity="0.1")
        run(instrument, utc(*DAY, 3, 34))
    assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        place(second, utc(*DAY, 3, 35), side="buy", price="95500", quantity="0.1")
        run(instrument, utc(*DAY, 3, 35))
    indicative = {
        "price": "95000.00",
        "quantity": "0.40000000",
        "surplus": "0.10000000",
        "surplus_side": "sell",
    }
    assert sent == [{"type": "indicative", "symbol": "BTC-USD", **indicative}]

    # And after a matcher restart the rebuilt book has the same indicative as
    # the row REST reads (and a repair of the row writes it again)
    matcher_state.forget(instrument.pk)
    instrument.refresh_from_db()
    rebuilt = book_rebuild(instrument)
    row = BookSnapshot.objects.get(instrument=instrument)
    assert rebuilt.indicative()[:3] == (
        row.indicative_price,
        row.indicative_lots,
        row.indicative_surplus,
    )
    assert ticker()["indicative"] == indicative

    # When an operator extends the pre-open by 5 minutes, then halts it
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        with time_machine.travel(utc(*DAY, 3, 36), tick=False):
            session_extend(
                instrument=instrument, minutes=5, acting_user=None, reason="news"
            )
            session_halt(instrument=instrument, acting_user=None, reason="check")
    # Then the stream hears both: the new end, then no next transition
    assert [(m["reason"], m["next_at"], m["halted"]) for m in sent] == [
        ("extend", "2026-12-08T03:43:00Z", False),
        ("halt", None, True),
    ]
    assert ticker(utc(*DAY, 3, 36))["session"] == {
        "phase": "pre_open",
        "next_phase": None,
        "next_at": None,
        "halted": True,
    }


def test_the_uncross_ends_the_indicative_and_continuous_trading_follows(
    kolkata_market, sent, django_capture_on_commit_callbacks
):
    instrument, seller, first, _ = kolkata_market
    with django_capture_on_commit_callbacks(execute=True):
        place(seller, utc(*DAY, 3, 31), side="sell", price="95000", quantity="0.5")
        place(first, utc(*DAY, 3, 32), side="buy", price="96000", quantity="0.3")
        run(instrument, utc(*DAY, 3, 32))
    sent.clear()
    # When the run after the opening call's end (03:45 UTC) enters the call
    # and uncrosses it
    with django_capture_on_commit_callbacks(execute=True):
        run(instrument, utc(*DAY, 3, 45, 1))
    # Then the stream hears the call, continuous trading (next: pre-close at
    # 10:00 UTC), and that nothing crosses any more
    assert [(m["type"], m.get("phase"), m.get("next_at")) for m in sent] == [
        ("phase", "opening_auction", "2026-12-08T03:45:00Z"),
        ("phase", "continuous", "2026-12-08T10:00:00Z"),
        ("indicative", None, None),
    ]
    assert sent[-1] == {
        "type": "indicative",
        "symbol": "BTC-USD",
        "price": None,
        "quantity": None,
        "surplus": None,
        "surplus_side": None,
    }
    # and REST says continuous, no indicative
    body = ticker(utc(*DAY, 3, 46))
    assert body["session"]["phase"] == "continuous"
    assert body["indicative"] is None


def test_a_new_calendar_tells_the_stream(
    kolkata_market, sent, django_capture_on_commit_callbacks
):
    instrument, *_ = kolkata_market
    run(instrument, utc(*DAY, 3, 32))  # the session exists, in pre-open
    # When the calendar is taken away
    with django_capture_on_commit_callbacks(execute=True):
        with time_machine.travel(utc(*DAY, 3, 33), tick=False):
            instrument_calendar_set(
                instrument=instrument,
                calendar=None,
                volatility_band_bps=0,
                volatility_call_seconds=120,
                volatility_random_seconds=0,
                acting_user=None,
            )
    # Then the stream hears the session has nothing scheduled any more
    assert [(m["reason"], m["phase"], m["next_phase"]) for m in sent] == [
        ("calendar", "pre_open", None)
    ]
