"""Who reacts to which domain event: the one place (config/events.py says how).

Reading this file tells a newcomer every consequence of an event outside the app
that records it. It is the only module of config that imports the apps
(config/tests/test_app_dependencies.py): the apps import config, never this.
"""

from __future__ import annotations

from config.events import IN_TRANSACTION, ON_COMMIT, subscribe


def register() -> None:
    from marketdata.events import MarketFrameReady, UserEventsSaved
    from marketdata.publish import market_frame_send, user_events_send
    from marketdata.services import balance_events_record, market_run_record
    from trading.events import MatchingRunApplied
    from wallet.events import BalancesChanged

    # A matching run: the book snapshot, candles, ticker and the users' order
    # and fill events are written with the run (rolled back with it), under its
    # instrument lock, so they follow the book's sequence exactly.
    subscribe(MatchingRunApplied, market_run_record, moment=IN_TRANSACTION)
    # The user stream's balance events are written with the posting that moved
    # the balances (the stream's outbox).
    subscribe(BalancesChanged, balance_events_record, moment=IN_TRANSACTION)

    # What those wrote goes on the channel layers once the cause commits (at
    # most once: clients heal a gap by sequence, snapshot or replay by id).
    subscribe(MarketFrameReady, market_frame_send, moment=ON_COMMIT)
    subscribe(UserEventsSaved, user_events_send, moment=ON_COMMIT)
