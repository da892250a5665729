"""Who reacts to which domain event: the one place (config/events.py says how).

Reading this file tells a newcomer every consequence of an event outside the app
that records it. It is the only module of config that imports the apps
(config/tests/test_app_dependencies.py): the apps import config, never this.
"""

from __future__ import annotations

from config.events import IN_TRANSACTION, ON_COMMIT, subscribe


def register() -> None:
    from accounts.events import SecondFactorResetRequested, SignInsEnded
    from kyc.emails import decision_email_send
    from kyc.events import KycDecided
    from kyc.services.recheck import (
        second_factor_reset_on_kyc_decision,
        second_factor_reset_recheck_open,
    )
    from marketdata.auth import user_streams_close
    from marketdata.events import MarketFrameReady, UserEventsSaved
    from marketdata.publish import (
        market_frame_send,
        market_status_send,
        user_events_send,
    )
    from marketdata.services import balance_events_record, market_run_record
    from trading.events import InstrumentStatusChanged, MatchingRunApplied
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
    # A halt, resume or close reaches the instrument's market stream live.
    subscribe(InstrumentStatusChanged, market_status_send, moment=ON_COMMIT)

    # The user hears of a KYC decision by email once it is committed.
    subscribe(KycDecided, decision_email_send, moment=ON_COMMIT)

    # Ended sign-ins (logout, password change, staff lock, a session ended from
    # the devices list, a reused refresh token) close their open /ws/user/ streams.
    subscribe(SignInsEnded, user_streams_close, moment=ON_COMMIT)

    # A second-factor reset waits for an identity re-check: kyc opens the case
    # with the request (or refuses it), and its approval by another reviewer
    # removes the factors in the deciding transaction (a refusal tells the user).
    subscribe(
        SecondFactorResetRequested,
        second_factor_reset_recheck_open,
        moment=IN_TRANSACTION,
    )
    subscribe(KycDecided, second_factor_reset_on_kyc_decision, moment=IN_TRANSACTION)
