"""Who reacts to which domain event: the one place (config/events.py says how).

Reading this file tells a newcomer every consequence of an event outside the app
that records it.
"""

from __future__ import annotations

from config.events import IN_TRANSACTION, ON_COMMIT, subscribe


def register() -> None:
    from accounts.events import SignInsEnded
    from accounts.services.factors import second_factor_reset_on_kyc_decision
    from kyc.emails import decision_email_send
    from kyc.events import KycDecided
    from marketdata.auth import user_streams_close
    from marketdata.services import balance_events_record
    from wallet.events import BalancesChanged

    # The user stream's balance events are written with the posting that moved
    # the balances (the stream's outbox), and published after commit.
    subscribe(BalancesChanged, balance_events_record, moment=IN_TRANSACTION)

    # The user hears of a KYC decision by email once it is committed.
    subscribe(KycDecided, decision_email_send, moment=ON_COMMIT)

    # Ended sign-ins (logout, password change, staff lock, a session ended from
    # the devices list, a reused refresh token) close their open /ws/user/ streams.
    subscribe(SignInsEnded, user_streams_close, moment=ON_COMMIT)

    # A reviewer's approval of a second-factor reset re-check removes the user's
    # factors in the same transaction (a refusal tells the user).
    subscribe(KycDecided, second_factor_reset_on_kyc_decision, moment=IN_TRANSACTION)
