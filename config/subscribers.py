"""Who reacts to which domain event: the one place (config/events.py says how).

Reading this file tells a newcomer every consequence of an event outside the app
that records it.
"""

from __future__ import annotations

from config.events import IN_TRANSACTION, subscribe


def register() -> None:
    from marketdata.services import balance_events_record
    from wallet.events import BalancesChanged

    # The user stream's balance events are written with the posting that moved
    # the balances (the stream's outbox), and published after commit.
    subscribe(BalancesChanged, balance_events_record, moment=IN_TRANSACTION)

    from accounts.services.factors import second_factor_reset_on_kyc_decision
    from kyc.events import KycCaseDecided

    # A reviewer's approval of a second-factor reset re-check removes the user's
    # factors in the same transaction (a refusal tells the user).
    subscribe(
        KycCaseDecided, second_factor_reset_on_kyc_decision, moment=IN_TRANSACTION
    )
