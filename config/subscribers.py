"""Who reacts to which domain event: the one place (config/events.py says how).

Reading this file tells a newcomer every consequence of an event outside the app
that records it. It is the only module of config that imports the apps
(config/tests/test_app_dependencies.py): the apps import config, never this.
"""

from __future__ import annotations

from config.events import IN_TRANSACTION, ON_COMMIT, subscribe


def register() -> None:
    from accounts.events import SecondFactorResetRequested, SignInsEnded
    from calendars.events import SessionChanged
    from kyc.events import KycDecided
    from kyc.services.recheck import (
        second_factor_reset_on_kyc_decision,
        second_factor_reset_recheck_open,
    )
    from marketdata.auth import user_streams_close
    from marketdata.events import MarketControlReady, MarketFrameReady, UserEventsSaved
    from marketdata.publish import (
        market_control_send,
        market_frame_send,
        market_phase_send,
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
    # So do a session's phase changes and, in a call, the indicative uncross
    # (no sequence: state, carried by the snapshot too; docs/marketdata.md).
    subscribe(SessionChanged, market_phase_send, moment=ON_COMMIT)
    subscribe(MarketControlReady, market_control_send, moment=ON_COMMIT)

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

    # Price alerts (trading/services/alerts.py): a matching run fires the
    # alerts its trades crossed, in its transaction and under its instrument
    # lock, so each fires exactly once; each firing records PriceAlertTriggered.
    from trading.services.alerts import price_alerts_check

    subscribe(MatchingRunApplied, price_alerts_check, moment=IN_TRANSACTION)

    # Balance alerts (wallet/services/alerts.py): a posting that takes an
    # available balance below the user's minimum records BalanceBelowMinimum
    # once and disarms the alert; one that brings it back re-arms it.
    from wallet.services.alerts import balance_alerts_check

    subscribe(BalancesChanged, balance_alerts_check, moment=IN_TRANSACTION)

    # --- devices (docs/notification-channels.md) ---
    from devices.services import mobile_devices_on_sign_ins_ended

    # A mobile app's push token goes with the sign-in that registered it: logout,
    # a password change, a staff lock or a session ended from the list deletes
    # it in the same transaction (no push reaches a signed-out device).
    subscribe(SignInsEnded, mobile_devices_on_sign_ins_ended, moment=IN_TRANSACTION)

    _notifications()
    _metrics_register()


def _metrics_register() -> None:
    """Prometheus (config/metrics.py, docs/operations.md): counters moved after
    commit, and the database's figures read at each scrape."""
    from backoffice import selectors as ops
    from config import metrics
    from trading.events import MatchingRunApplied

    # A committed matching run's trades and settlement postings.
    subscribe(MatchingRunApplied, metrics.matching_run_counted, moment=ON_COMMIT)

    metrics.scrape_source(
        ("order_commands_pending", "order_commands_oldest_age_seconds"),
        ops.metrics_order_commands,
    )
    metrics.scrape_source(("holds_pending_amount", "holds_pending"), ops.metrics_holds)
    metrics.scrape_source(
        ("kyc_queue_cases", "kyc_queue_oldest_age_seconds"), ops.metrics_kyc_queue
    )
    metrics.scrape_source(
        ("withdrawals_waiting", "withdrawals_oldest_waiting_age_seconds"),
        ops.metrics_withdrawals,
    )
    metrics.scrape_source(
        (
            "ledger_verification_ok",
            "ledger_verification_problems",
            "ledger_verification_last_run_timestamp_seconds",
        ),
        ops.metrics_ledger_verification,
    )
    metrics.scrape_source(("celery_queue_length",), metrics.celery_queue_lengths)
    metrics.celery_signals_connect()


def _notifications() -> None:
    """Every event about a user's money or account becomes a notification in
    the cause's transaction (notifications/handlers.py: the in-app item and the
    delivery rows are the outbox; the delivery task sends after commit)."""
    from accounts.events import SecurityNotice
    from kyc.events import KycDecided
    from notifications import handlers
    from trading.events import MatchingRunApplied, PriceAlertTriggered
    from wallet.events import (
        AdjustmentDecided,
        BalanceBelowMinimum,
        DepositCredited,
        TransferReceived,
        WithdrawalDecided,
    )

    for event_type, handler in (
        (MatchingRunApplied, handlers.matching_run_notify),
        (PriceAlertTriggered, handlers.price_alert_notify),
        (DepositCredited, handlers.deposit_notify),
        (WithdrawalDecided, handlers.withdrawal_notify),
        (AdjustmentDecided, handlers.adjustment_notify),
        (TransferReceived, handlers.transfer_notify),
        (BalanceBelowMinimum, handlers.balance_low_notify),
        (KycDecided, handlers.kyc_decision_notify),
        (SecurityNotice, handlers.security_notify),
    ):
        subscribe(event_type, handler, moment=IN_TRANSACTION)
