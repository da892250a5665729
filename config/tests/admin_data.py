"""One row of every model the admin shows, made through the real services (the
login API, the KYC flow, deposits, withdrawals to a beneficiary, orders and the
matcher, a role grant request, a ledger verification, the report build), for the
tests that
walk the admin registry. A model registered later and not made here fails those
tests with its name, so its row gets added here."""

from __future__ import annotations

from axes.models import AccessFailureLog, AccessLog
from django.contrib import admin
from django.db import models
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from accounts.models import User
from accounts.roles import Role, sync_role_permissions
from accounts.testing import PASSWORD, api_client_for, make_user
from backoffice.models import LedgerVerification
from backoffice.services import ledger_verification_beat_key, ledger_verification_run
from kyc.testing import kyc_approve
from kyc.tests.helpers import submitted_case
from reports.services import reports_build
from trading.services import fee_override_set, order_place, price_alert_create
from trading.tests.helpers import make_btc_usd, match
from wallet import services as wallet_services
from wallet.tests.helpers import fund, make_beneficiary


def _login_attempts(user: User) -> None:
    """Failed logins through the API (django-axes records the attempts); axes'
    access and failure logs, which this project's settings do not fill, get one
    row each directly: they are a third-party record with no service of ours."""
    client = Client(REMOTE_ADDR="10.0.0.9")
    client.post(
        "/api/v1/auth/login",
        {"email": user.email, "password": "wrong-password-1"},
        content_type="application/json",
    )
    client.post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    failing = Client(REMOTE_ADDR="10.0.0.10")
    failing.post(
        "/api/v1/auth/login",
        {"email": user.email, "password": "wrong-password-2"},
        content_type="application/json",
    )
    for model in (AccessLog, AccessFailureLog):
        if not model.objects.exists():
            extra = {"locked_out": False} if model is AccessFailureLog else {}
            model.objects.create(
                username=user.email,
                ip_address="10.0.0.9",
                user_agent="test",
                http_accept="*/*",
                path_info="/api/v1/auth/login",
                **extra,
            )


def one_of_each() -> None:
    """Users, KYC, wallet, trading, back-office and report rows: at least one of
    every registered model (the user page, a proxy of the user, has the users)."""
    sync_role_permissions()  # the role groups (auth.Group)
    operator = make_user(
        email="maker@example.com", roles=(Role.OPERATOR,), is_staff=True
    )
    administrator = make_user(
        email="people@example.com", roles=(Role.ADMINISTRATOR,), is_staff=True
    )
    instrument = make_btc_usd()
    usd, btc = instrument.quote, instrument.base
    alice = make_user(email="alice@example.com", full_name="Alice Trader")
    bob = make_user(email="bob@example.com", full_name="Bob Trader")
    kyc_approve(user=alice)
    kyc_approve(user=bob)
    carol = make_user(email="carol@example.com")
    submitted_case(carol)  # waiting in the queue

    # Wallet: funds, a deposit, withdrawals to a beneficiary (one pending with
    # its hold, one paid out), an adjustment, a
    # transfer through the API (with an idempotency key), a balance alert.
    fund(alice, usd, 200_000_00)
    fund(bob, btc, 2 * 10**8)
    deposit = wallet_services.deposit_create(user=alice, asset=usd, amount=50_00)
    _deposit_credited(deposit)  # a provider event, its credit and notifications
    beneficiary = make_beneficiary(alice)
    wallet_services.withdrawal_request(
        user=alice, asset=usd, amount=10_00, beneficiary=beneficiary
    )
    # A second one paid out (approved, sent, completed), for the funding report.
    paid = wallet_services.withdrawal_request(
        user=alice, asset=usd, amount=20_00, beneficiary=beneficiary
    )
    paid = wallet_services.withdrawal_approve(
        withdrawal=paid, operator=operator, note="registry walk: approved"
    )
    paid = wallet_services.withdrawal_mark_sent(
        withdrawal=paid,
        operator=operator,
        payout_reference="WALK-0001",
        note="registry walk: sent on the rail",
    )
    wallet_services.withdrawal_complete(
        withdrawal=paid, operator=operator, note="registry walk: the rail confirmed"
    )
    wallet_services.adjustment_request(
        user=alice, asset=usd, amount=5_00, reason="goodwill", operator=operator
    )
    api_client_for(alice).post(
        "/api/v1/wallet/transfers",
        {"to": bob.email, "asset": "USD", "amount": "1.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="registry-walk-1",
    )
    wallet_services.balance_alert_set(user=alice, asset=usd, minimum=100_00)

    # Trading: a fee override, a trade (fills), a resting order, the queue.
    fee_override_set(user=bob, instrument=None, maker_fee_bps=5, taker_fee_bps=5)
    order_place(user=bob, symbol="BTC-USD", side="sell", price="95000", quantity="0.1")
    order_place(user=alice, symbol="BTC-USD", side="buy", price="95000", quantity="0.1")
    order_place(user=alice, symbol="BTC-USD", side="buy", price="90000", quantity="0.1")
    price_alert_create(
        user=alice, instrument=instrument, condition="above", price="99000"
    )
    match(instrument)

    # Accounts: tokens (one blacklisted), a TOTP device, login attempts.
    RefreshToken.for_user(bob)
    RefreshToken.for_user(bob).blacklist()
    account_services.totp_setup(user=bob)
    account_services.backup_codes_ensure(user=operator)
    _login_attempts(bob)

    # Back office: a role grant request waiting for a second administrator, a
    # recorded ledger verification (the beat's run), and the report tables.
    account_services.role_grant_request(
        requested_by=administrator,
        user=carol,
        role=Role.SUPPORT,
        reason="registry walk: carol joins support",
    )
    ledger_verification_run(
        run_key=ledger_verification_beat_key(), trigger=LedgerVerification.Trigger.BEAT
    )
    reports_build()
    _calendar_session(instrument, operator)
    _devices(alice)
    _reconciliation_difference(deposit)
    _api_key(alice)


def _calendar_session(instrument, operator: User) -> None:
    """A calendar with a holiday, the instrument on it, its session entered
    and halted by the operator (calendars/tests/helpers.py)."""
    from calendars.services import instrument_calendar_set, session_halt
    from calendars.tests.helpers import advance, make_berlin, utc

    instrument_calendar_set(
        instrument=instrument,
        calendar=make_berlin(),
        volatility_band_bps=0,
        volatility_call_seconds=120,
        volatility_random_seconds=30,
        acting_user=operator,
    )
    advance(instrument, utc(2026, 6, 2, 9))
    session_halt(instrument=instrument, acting_user=operator, reason="registry walk")


def _deposit_credited(deposit) -> None:
    from wallet.providers.sandbox import SandboxProvider

    headers, body = SandboxProvider().build_webhook(
        deposit=deposit, outcome="succeeded"
    )
    wallet_services.deposit_webhook_process(
        provider="sandbox", headers=headers, body=body
    )


def _devices(user: User) -> None:
    """A phone verified by a code sent through Twilio (faked at the HTTP layer,
    as the devices tests do), a browser's push subscription, a mobile device."""
    import json
    import re
    from urllib.parse import parse_qs

    import responses
    from django.test import override_settings

    from devices import services as devices_services
    from devices.tests.conftest import (
        TWILIO_FROM,
        TWILIO_MESSAGES_URL,
        TWILIO_SID,
        TWILIO_TOKEN,
        new_browser,
    )

    sent: list[str] = []

    def twilio(request):
        sent.append(parse_qs(request.body)["Body"][0])
        return 201, {}, json.dumps({"sid": "SM" + "0" * 32, "status": "queued"})

    twilio_settings = override_settings(
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_MESSAGING_SERVICE_SID="",
    )
    with twilio_settings, responses.RequestsMock() as fake:
        fake.add_callback(responses.POST, TWILIO_MESSAGES_URL, callback=twilio)
        devices_services.phone_code_send(user=user, number="+14155550100")
    code = re.match(r"^(\d{6})", sent[0])
    assert code is not None
    devices_services.phone_code_confirm(user=user, code=code.group(1))
    browser = new_browser("registry-walk")
    devices_services.webpush_subscribe(
        user=user, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth
    )
    devices_services.mobile_device_register(
        user=user, platform="fcm", token="registry-walk-token", name="Phone"
    )


def _api_key(user: User) -> None:
    """An HMAC API key, made with a backup code as the page and the API ask."""
    from apikeys.tests.conftest import make_key

    make_key(user, label="registry walk", scopes=("read", "trade"))


def _reconciliation_difference(deposit) -> None:
    """The daily reconciliation reads a provider's report over HTTP: its
    difference row is written here as the job would (wallet/tests hold the job's
    own tests against a faked Stripe)."""
    from wallet.models import ReconciliationItem

    ReconciliationItem.objects.create(
        provider="stripe",
        day=deposit.created_at.date(),
        kind=ReconciliationItem.Kind.UNKNOWN_PAYMENT,
        key="txn_registry_walk",
        payment_id="pi_registry_walk",
        currency="USD",
        provider_amount="9.99",
    )


def missing_models() -> list[str]:
    """Registered models with no row yet."""
    return [
        model._meta.label
        for model in admin.site._registry
        if not model._default_manager.exists()
    ]


def first_row(model: type[models.Model]) -> models.Model | None:
    return model._default_manager.order_by("pk").first()
