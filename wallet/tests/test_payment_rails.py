"""Stripe and Razorpay deposits end to end: the SDKs' HTTP calls answered by a
local fake at the transport layer (`responses`), webhooks signed with each
provider's scheme and shaped like theirs; duplicates, disorder, forgeries,
refunds and lost disputes, with the ledger verified after each."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

import pytest
import responses
import stripe

from accounts.models import AuditCode, AuditEvent
from config.domain_errors import ApplicationError
from wallet import services
from wallet.models import Account, Deposit, DepositReversal, ProviderEvent
from wallet.tests.helpers import assert_ledger_ok, balances

STRIPE_KEY = "sk_test_platform"
STRIPE_SECRET = "whsec_test_endpoint"
RAZORPAY_KEY, RAZORPAY_KEY_SECRET = "rzp_test_key", "rzp_test_key_secret"
RAZORPAY_SECRET = "rzp_webhook_secret"


@pytest.fixture(autouse=True)
def rails(settings):
    settings.STRIPE_ENABLED = True
    settings.STRIPE_SECRET_KEY = STRIPE_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    settings.RAZORPAY_ENABLED = True
    settings.RAZORPAY_KEY_ID = RAZORPAY_KEY
    settings.RAZORPAY_KEY_SECRET = RAZORPAY_KEY_SECRET
    settings.RAZORPAY_WEBHOOK_SECRET = RAZORPAY_SECRET
    settings.PAYMENTS_RETURN_BASE_URL = "https://exchange.example.com"


@pytest.fixture
def inr(db):
    from wallet.tests.helpers import make_asset

    return make_asset("INR", 2)


# --- Stripe -----------------------------------------------------------------------


def stripe_deposit(user, asset, amount: int) -> Deposit:
    """A deposit through Stripe, its Checkout Session created through the SDK
    against the fake, which checks what Stripe requires."""

    def create_session(request):
        assert request.headers["Authorization"] == f"Bearer {STRIPE_KEY}"
        assert request.headers["Idempotency-Key"].startswith("deposit-")
        form = parse_qs(request.body)
        assert form["mode"] == ["payment"]
        assert form["line_items[0][price_data][currency]"] == [asset.code.lower()]
        assert form["line_items[0][price_data][unit_amount]"] == [str(amount)]
        assert form["line_items[0][quantity]"] == ["1"]
        assert form["success_url"][0].startswith("https://exchange.example.com/")
        deposit_id = form["metadata[deposit]"][0]
        assert form["payment_intent_data[metadata][deposit]"] == [deposit_id]
        session_id = f"cs_test_{deposit_id}"
        body = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "amount_total": amount,
            "currency": asset.code.lower(),
            "payment_status": "unpaid",
            "metadata": {"deposit": deposit_id},
        }
        return 200, {"Request-Id": "req_1"}, json.dumps(body)

    with responses.RequestsMock() as fake:
        fake.add_callback(
            responses.POST,
            "https://api.stripe.com/v1/checkout/sessions",
            callback=create_session,
        )
        return services.deposit_create(
            user=user, asset=asset, amount=amount, provider="stripe"
        )


def stripe_event(kind: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{kind}_{obj['id']}",
        "object": "event",
        "api_version": "2025-06-30.basil",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": obj},
    }


def session_completed(deposit: Deposit, *, amount: int | None = None) -> dict:
    return stripe_event(
        "checkout.session.completed",
        {
            "id": deposit.provider_reference,
            "object": "checkout.session",
            "amount_total": deposit.amount if amount is None else amount,
            "currency": deposit.asset.code.lower(),
            "payment_intent": f"pi_{deposit.pk}",
            "payment_status": "paid",
            "status": "complete",
            "metadata": {"deposit": str(deposit.pk)},
        },
    )


def refund_created(deposit: Deposit, amount: int, refund_id: str) -> dict:
    return stripe_event(
        "refund.created",
        {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": deposit.asset.code.lower(),
            "payment_intent": f"pi_{deposit.pk}",
            "charge": f"ch_{deposit.pk}",
            "status": "succeeded",
        },
    )


def deliver_stripe(event: dict, *, secret: str = STRIPE_SECRET, at: int | None = None):
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=at
    )
    return services.deposit_webhook_process(
        provider="stripe",
        headers={"Stripe-Signature": header},
        body=payload.encode(),
    )


@pytest.mark.kyc_verified
def test_stripe_checkout_credits_once_whatever_the_deliveries(alice, usd):
    deposit = stripe_deposit(alice, usd, 12_345)
    assert deposit.checkout_url == (
        f"https://checkout.stripe.com/c/pay/{deposit.provider_reference}"
    )
    event = session_completed(deposit)
    for _ in range(3):  # Stripe retries until it sees a 2xx
        record = deliver_stripe(event)
    assert record.outcome == "applied"
    deposit.refresh_from_db()
    assert (deposit.status, deposit.credited_amount, deposit.payment_id) == (
        "credited",
        12_345,
        f"pi_{deposit.pk}",
    )
    assert balances(alice) == {"USD": (12_345, 0)}
    assert ProviderEvent.objects.count() == 1
    # async_payment_succeeded for the same session: a second event id, no credit
    again = stripe_event(
        "checkout.session.async_payment_succeeded",
        session_completed(deposit)["data"]["object"],
    )
    assert deliver_stripe(again).outcome == "ignored"
    assert balances(alice) == {"USD": (12_345, 0)}
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_stripe_forged_and_stale_deliveries_are_refused(alice, usd):
    deposit = stripe_deposit(alice, usd, 5_000)
    event = session_completed(deposit)
    with pytest.raises(ApplicationError) as info:
        deliver_stripe(event, secret="whsec_someone_else")
    assert info.value.code == "invalid_signature"
    # the body changed after signing (a bigger amount)
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, STRIPE_SECRET)
    tampered = payload.replace('"amount_total": 5000', '"amount_total": 9000000')
    with pytest.raises(ApplicationError) as info:
        services.deposit_webhook_process(
            provider="stripe",
            headers={"Stripe-Signature": header},
            body=tampered.encode(),
        )
    assert info.value.code == "invalid_signature"
    with pytest.raises(ApplicationError) as info:
        deliver_stripe(event, at=int(time.time()) - 3600)  # a replay, an hour on
    assert info.value.code == "stale_signature"
    with pytest.raises(ApplicationError) as info:
        services.deposit_webhook_process(provider="stripe", headers={}, body=b"{}")
    assert info.value.code == "invalid_signature"
    assert Deposit.objects.get().status == "pending"
    assert ProviderEvent.objects.count() == 0
    assert balances(alice) == {}


@pytest.mark.kyc_verified
def test_a_refund_delivered_before_its_payment_waits_for_it(alice, usd):
    deposit = stripe_deposit(alice, usd, 10_000)
    early = deliver_stripe(refund_created(deposit, 4_000, "re_1"))
    assert early.outcome == "deferred" and early.deposit is None
    assert balances(alice) == {}
    deliver_stripe(session_completed(deposit))
    early.refresh_from_db()
    assert early.outcome == "applied"
    deposit.refresh_from_db()
    assert (deposit.credited_amount, deposit.reversed_amount) == (10_000, 4_000)
    assert balances(alice) == {"USD": (6_000, 0)}
    reversal = DepositReversal.objects.get()
    assert (reversal.kind, reversal.amount, reversal.covered, reversal.shortfall) == (
        "refund",
        4_000,
        4_000,
        0,
    )
    # refund.updated for the same refund: nothing more
    updated = refund_created(deposit, 4_000, "re_1")
    updated["id"], updated["type"] = "evt_refund_updated_re_1", "refund.updated"
    assert deliver_stripe(updated).outcome == "ignored"
    assert balances(alice) == {"USD": (6_000, 0)}
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_a_refund_after_the_money_was_spent_leaves_a_receivable_and_restricts(
    alice, bob, usd
):
    from wallet.models import Beneficiary
    from wallet.tests.helpers import make_beneficiary

    deposit = stripe_deposit(alice, usd, 10_000)
    deliver_stripe(session_completed(deposit))
    services.transfer_create(sender=alice, to_email=bob.email, asset=usd, amount=7_500)
    assert balances(alice) == {"USD": (2_500, 0)}

    deliver_stripe(refund_created(deposit, 10_000, "re_full"))
    reversal = DepositReversal.objects.get()
    assert (reversal.covered, reversal.shortfall) == (2_500, 7_500)
    accounts = {a.kind: a.balance for a in Account.objects.filter(owner=alice)}
    assert accounts == {"available": 0, "receivable": -7_500}
    # operators see who owes on the admin index
    from accounts.roles import Role
    from accounts.testing import make_user
    from backoffice.selectors import ops_overview

    operator = make_user(email="ops@example.com", roles=(Role.OPERATOR,), is_staff=True)
    owing = {t.key: t for t in ops_overview(user=operator).tiles}["owing"]
    assert owing.count == 1
    # and the user sees what they owe with their balances
    from accounts.testing import api_client_for

    listed = api_client_for(alice).get("/api/v1/wallet/balances").json()
    usd_row = next(row for row in listed if row["asset"] == "USD")
    assert (usd_row["available"], usd_row["owed"]) == ("0.00", "75.00")
    event = AuditEvent.objects.get(code=AuditCode.DEPOSIT_REVERSED)
    assert (event.extra["covered"], event.extra["shortfall"]) == ("25.00", "75.00")
    assert_ledger_ok()

    # restricted: no withdrawal (and no trading, tested in trading) until repaid
    beneficiary = make_beneficiary(alice)
    assert isinstance(beneficiary, Beneficiary)
    with pytest.raises(ApplicationError) as info:
        services.withdrawal_request(
            user=alice, asset=usd, amount=1, beneficiary=beneficiary
        )
    assert info.value.code == "account_restricted"

    # the next deposit repays the debt first, then credits the rest
    second = stripe_deposit(alice, usd, 10_000)
    deliver_stripe(session_completed(second))
    accounts = {a.kind: a.balance for a in Account.objects.filter(owner=alice)}
    assert accounts == {"available": 2_500, "receivable": 0}
    from wallet.selectors import wallet_restricted

    assert not wallet_restricted(user=alice)
    assert DepositReversal.objects.get().shortfall == 7_500  # history stays
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_stripe_lost_dispute_reverses_and_a_won_one_does_not(alice, usd):
    deposit = stripe_deposit(alice, usd, 8_000)
    deliver_stripe(session_completed(deposit))
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 8_000,
        "currency": "usd",
        "payment_intent": f"pi_{deposit.pk}",
        "charge": f"ch_{deposit.pk}",
        "status": "won",
    }
    assert deliver_stripe(stripe_event("charge.dispute.closed", dispute)).outcome == (
        "ignored"
    )
    assert balances(alice) == {"USD": (8_000, 0)}
    lost = dict(dispute, status="lost")
    record = deliver_stripe(
        stripe_event("charge.dispute.closed", lost, event_id="evt_lost")
    )
    assert record.outcome == "applied"
    assert balances(alice) == {}
    assert DepositReversal.objects.get().kind == "dispute"
    # a refund of the same payment beyond what is left is refused
    with pytest.raises(ApplicationError) as info:
        deliver_stripe(refund_created(deposit, 1, "re_late"))
    assert info.value.code == "amount_mismatch"
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_stripe_expired_session_fails_the_deposit(alice, usd):
    deposit = stripe_deposit(alice, usd, 3_000)
    expired = stripe_event(
        "checkout.session.expired",
        {
            "id": deposit.provider_reference,
            "object": "checkout.session",
            "amount_total": 3_000,
            "currency": "usd",
            "payment_status": "unpaid",
            "status": "expired",
        },
    )
    deliver_stripe(expired)
    deposit.refresh_from_db()
    assert deposit.status == "failed"
    # the success arriving afterwards cannot credit a failed deposit
    assert deliver_stripe(session_completed(deposit)).outcome == "ignored"
    assert balances(alice) == {}


# --- Razorpay -----------------------------------------------------------------


def razorpay_deposit(user, asset, amount: int) -> Deposit:
    link_id = f"plink_{user.pk}{amount}"

    def create_link(request):
        auth = request.headers["Authorization"]
        import base64

        assert (
            auth
            == "Basic "
            + base64.b64encode(
                f"{RAZORPAY_KEY}:{RAZORPAY_KEY_SECRET}".encode()
            ).decode()
        )
        body = json.loads(request.body)
        assert body["amount"] == amount  # paise
        assert body["currency"] == "INR"
        assert body["accept_partial"] is False
        assert body["notes"] == {"deposit": body["reference_id"]}
        answer = {
            "id": link_id,
            "short_url": f"https://rzp.io/i/{link_id}",
            "amount": amount,
            "currency": "INR",
            "status": "created",
            "reference_id": body["reference_id"],
        }
        return 200, {}, json.dumps(answer)

    with responses.RequestsMock() as fake:
        fake.add_callback(
            responses.POST,
            "https://api.razorpay.com/v1/payment_links",
            callback=create_link,
        )
        return services.deposit_create(
            user=user, asset=asset, amount=amount, provider="razorpay"
        )


def razorpay_event(name: str, entities: dict) -> dict:
    return {
        "entity": "event",
        "account_id": "acc_test",
        "event": name,
        "contains": list(entities),
        "payload": {key: {"entity": value} for key, value in entities.items()},
        "created_at": int(time.time()),
    }


def link_paid(deposit: Deposit, *, method: str = "upi") -> dict:
    return razorpay_event(
        "payment_link.paid",
        {
            "payment_link": {
                "id": deposit.provider_reference,
                "amount": deposit.amount,
                "amount_paid": deposit.amount,
                "currency": "INR",
                "status": "paid",
                "reference_id": str(deposit.pk),
            },
            "payment": {
                "id": f"pay_{deposit.pk}",
                "entity": "payment",
                "amount": deposit.amount,
                "currency": "INR",
                "status": "captured",
                "method": method,
                "vpa": "alice@okbank" if method == "upi" else None,
            },
        },
    )


def deliver_razorpay(event: dict, event_id: str, *, secret: str = RAZORPAY_SECRET):
    body = json.dumps(event).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return services.deposit_webhook_process(
        provider="razorpay",
        headers={"X-Razorpay-Signature": signature, "X-Razorpay-Event-Id": event_id},
        body=body,
    )


@pytest.mark.kyc_verified
def test_razorpay_upi_payment_link_credits_once(alice, inr):
    deposit = razorpay_deposit(alice, inr, 250_000)  # 2,500.00 INR
    assert deposit.checkout_url == f"https://rzp.io/i/{deposit.provider_reference}"
    for _ in range(2):
        deliver_razorpay(link_paid(deposit), "evt_paid_1")
    # payment.captured for the same payment: nothing for the wallet
    captured = razorpay_event("payment.captured", {"payment": {"id": "pay_x"}})
    assert deliver_razorpay(captured, "evt_captured_1").outcome == "ignored"
    deposit.refresh_from_db()
    assert (deposit.status, deposit.payment_id) == ("credited", f"pay_{deposit.pk}")
    assert balances(alice) == {"INR": (250_000, 0)}
    with pytest.raises(ApplicationError) as info:
        deliver_razorpay(link_paid(deposit), "evt_forged", secret="not-the-secret")
    assert info.value.code == "invalid_signature"
    with pytest.raises(ApplicationError) as info:  # no event id: no replay check
        body = json.dumps(link_paid(deposit)).encode()
        services.deposit_webhook_process(
            provider="razorpay",
            headers={
                "X-Razorpay-Signature": hmac.new(
                    RAZORPAY_SECRET.encode(), body, hashlib.sha256
                ).hexdigest()
            },
            body=body,
        )
    assert info.value.code == "invalid_webhook"
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_razorpay_refund_and_lost_dispute(alice, inr):
    deposit = razorpay_deposit(alice, inr, 100_000)
    deliver_razorpay(link_paid(deposit), "evt_paid")
    refund = razorpay_event(
        "refund.processed",
        {
            "refund": {
                "id": "rfnd_1",
                "entity": "refund",
                "amount": 30_000,
                "currency": "INR",
                "payment_id": f"pay_{deposit.pk}",
                "status": "processed",
            }
        },
    )
    deliver_razorpay(refund, "evt_refund")
    deliver_razorpay(refund, "evt_refund")  # again
    assert balances(alice) == {"INR": (70_000, 0)}
    dispute = razorpay_event(
        "payment.dispute.lost",
        {
            "dispute": {
                "id": "disp_1",
                "entity": "dispute",
                "amount": 70_000,
                "currency": "INR",
                "payment_id": f"pay_{deposit.pk}",
                "status": "lost",
            }
        },
    )
    deliver_razorpay(dispute, "evt_dispute")
    assert balances(alice) == {}
    assert sorted(DepositReversal.objects.values_list("kind", "amount")) == [
        ("dispute", 70_000),
        ("refund", 30_000),
    ]
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_an_expired_link_fails_and_an_unknown_one_is_404(alice, inr):
    deposit = razorpay_deposit(alice, inr, 5_000)
    expired = razorpay_event(
        "payment_link.expired",
        {
            "payment_link": {
                "id": deposit.provider_reference,
                "amount": 5_000,
                "currency": "INR",
                "status": "expired",
            }
        },
    )
    deliver_razorpay(expired, "evt_expired")
    deposit.refresh_from_db()
    assert deposit.status == "failed"
    stranger = razorpay_event(
        "payment_link.paid",
        {
            "payment_link": {"id": "plink_not_ours", "amount": 1, "currency": "INR"},
            "payment": {"id": "pay_x", "amount": 1, "currency": "INR"},
        },
    )
    with pytest.raises(ApplicationError) as info:
        deliver_razorpay(stranger, "evt_stranger")
    assert info.value.code == "unknown_payment"
    assert not ProviderEvent.objects.filter(event_id="evt_stranger").exists()


def test_a_user_who_owes_cannot_place_orders(db):
    """The restriction is part of placement's one statement (trading/queries.py),
    from the same rule as the wallet's (wallet.queries.owes_sql)."""
    from kyc.testing import make_verified_user
    from trading.services import order_place
    from trading.tests.helpers import fund, make_btc_usd

    market = make_btc_usd()
    trader = make_verified_user(email="owes@example.com")
    fund(trader, market.quote, 100_000)
    order, _ = order_place(
        user=trader, symbol=market.symbol, side="buy", price="100", quantity="1"
    )
    assert order.status == "pending"
    deposit = stripe_deposit(trader, market.quote, 10_000)
    deliver_stripe(session_completed(deposit))
    # everything available is spent on a resting order, then the deposit is
    # refunded: the part still available covers, the rest is owed
    order_place(
        user=trader, symbol=market.symbol, side="buy", price="1000", quantity="1"
    )
    deliver_stripe(refund_created(deposit, 10_000, "re_trader"))
    reversal = DepositReversal.objects.get()
    assert reversal.shortfall > 0
    with pytest.raises(ApplicationError) as info:
        order_place(
            user=trader, symbol=market.symbol, side="buy", price="1", quantity="1"
        )
    assert info.value.code == "account_restricted"
    assert_ledger_ok()


# --- Payouts ----------------------------------------------------------------


@pytest.fixture
def approved_withdrawal(alice, usd):
    from accounts.roles import Role
    from accounts.testing import make_user
    from wallet.tests.helpers import fund, make_beneficiary

    operator = make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)
    fund(alice, usd, 10_000)
    withdrawal = services.withdrawal_request(
        user=alice, asset=usd, amount=4_000, beneficiary=make_beneficiary(alice)
    )
    services.withdrawal_approve(
        withdrawal=withdrawal, operator=operator, note="Checked against the ticket."
    )
    return withdrawal, operator


def _send(withdrawal, operator, reference=""):
    return services.withdrawal_mark_sent(
        withdrawal=withdrawal,
        operator=operator,
        payout_reference=reference,
        note="Paid out through the rail.",
    )


@pytest.mark.kyc_verified
def test_the_sandbox_rail_pays_and_its_webhook_completes(
    alice, usd, approved_withdrawal, settings, django_capture_on_commit_callbacks
):
    settings.WALLET_PAYOUT_PROVIDER = "sandbox"
    withdrawal, operator = approved_withdrawal
    with django_capture_on_commit_callbacks(execute=True):
        _send(withdrawal, operator)
    withdrawal.refresh_from_db()
    assert withdrawal.payout_provider == "sandbox"
    assert withdrawal.payout_reference.startswith(f"sbxpo_{withdrawal.pk}_")
    assert withdrawal.status == "completed"  # the rail called back (eager task)
    assert list(withdrawal.history.values_list("new_status", "acting_user")) == [
        ("requested", alice.pk),
        ("approved", operator.pk),
        ("sent", operator.pk),
        ("completed", None),  # the rail, not a person
    ]
    assert balances(alice) == {"USD": (6_000, 0)}
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_a_failed_payout_returns_the_funds_once(
    alice, usd, approved_withdrawal, settings
):
    from wallet.providers.payouts import SandboxPayout

    settings.WALLET_PAYOUT_PROVIDER = "sandbox"
    withdrawal, operator = approved_withdrawal
    _send(withdrawal, operator)  # the webhook task waits for a commit that
    withdrawal.refresh_from_db()  # the test transaction never makes
    assert (withdrawal.status, balances(alice)) == ("sent", {"USD": (6_000, 0)})
    headers, body = SandboxPayout().build_webhook(
        reference=withdrawal.payout_reference, paid=False, reason="Account closed."
    )
    for _ in range(3):
        record = services.payout_webhook_process(
            provider="sandbox", headers=headers, body=body
        )
        assert record.outcome == "applied"
    withdrawal.refresh_from_db()
    assert withdrawal.status == "failed"
    assert "Account closed." in withdrawal.history.last().note
    assert balances(alice) == {"USD": (10_000, 0)}
    # a late "paid" for the same payout changes nothing
    headers, body = SandboxPayout().build_webhook(
        reference=withdrawal.payout_reference, paid=True
    )
    late = services.payout_webhook_process(
        provider="sandbox", headers=headers, body=body
    )
    assert late.outcome == "ignored"
    assert balances(alice) == {"USD": (10_000, 0)}
    # forged and unknown
    with pytest.raises(ApplicationError) as info:
        services.payout_webhook_process(
            provider="sandbox", headers=headers, body=body.replace(b"paid", b"pain")
        )
    assert info.value.code == "invalid_signature"
    headers, body = SandboxPayout().build_webhook(reference="sbxpo_nope", paid=True)
    with pytest.raises(ApplicationError) as info:
        services.payout_webhook_process(provider="sandbox", headers=headers, body=body)
    assert info.value.code == "unknown_payment"
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_the_manual_rail_needs_the_reference(alice, usd, approved_withdrawal):
    withdrawal, operator = approved_withdrawal
    with pytest.raises(ApplicationError) as info:
        _send(withdrawal, operator)
    assert info.value.code == "payout_reference_required"
    _send(withdrawal, operator, "BANK-REF-1")
    withdrawal.refresh_from_db()
    assert (withdrawal.payout_provider, withdrawal.status) == ("manual", "sent")
    from wallet.providers.payouts import SandboxPayout

    headers, body = SandboxPayout().build_webhook(reference="BANK-REF-1", paid=True)
    with pytest.raises(ApplicationError) as info:  # the manual rail has no webhook
        services.payout_webhook_process(provider="manual", headers=headers, body=body)
    assert info.value.code == "unknown_provider"


# --- Reconciliation -----------------------------------------------------------


def _balance_txn(txn_id: str, kind: str, amount: int, source: dict) -> dict:
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "type": kind,
        "amount": amount,
        "currency": "usd",
        "created": int(time.time()),
        "source": source,
    }


@pytest.mark.kyc_verified
def test_reconciliation_finds_each_planted_difference_once(alice, usd):
    from django.utils import timezone

    from accounts.roles import Role
    from accounts.testing import make_user
    from wallet.models import ReconciliationItem

    matched = stripe_deposit(alice, usd, 5_000)
    deliver_stripe(session_completed(matched))
    short = stripe_deposit(alice, usd, 7_000)  # credited 70.00; Stripe says 69.00
    deliver_stripe(session_completed(short))
    waiting = stripe_deposit(alice, usd, 2_000)  # paid, webhook never arrived
    lost = stripe_deposit(alice, usd, 1_000)  # credited here, absent there
    deliver_stripe(session_completed(lost))
    lines = [
        _balance_txn("txn_ok", "charge", 5_000,
                     {"id": "ch_ok", "object": "charge",
                      "payment_intent": f"pi_{matched.pk}", "metadata": {}}),
        _balance_txn("txn_short", "charge", 6_900,
                     {"id": "ch_short", "object": "charge",
                      "payment_intent": f"pi_{short.pk}", "metadata": {}}),
        _balance_txn("txn_waiting", "charge", 2_000,
                     {"id": "ch_waiting", "object": "charge",
                      "payment_intent": "pi_never_told",
                      "metadata": {"deposit": str(waiting.pk)}}),
        _balance_txn("txn_stranger", "charge", 999,
                     {"id": "ch_x", "object": "charge",
                      "payment_intent": "pi_stranger", "metadata": {}}),
        _balance_txn("txn_refund", "refund", -5_000,
                     {"id": "re_unseen", "object": "refund",
                      "payment_intent": f"pi_{matched.pk}"}),
        _balance_txn("txn_fee", "stripe_fee", -30, {"id": "fee", "object": "fee"}),
    ]  # fmt: skip
    asked = []

    def listing(request):
        asked.append(request.url)
        assert request.headers["Authorization"] == f"Bearer {STRIPE_KEY}"
        page = {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": "/v1/balance_transactions",
        }
        return 200, {}, json.dumps(page)

    today = timezone.now().date()
    for _ in range(2):  # the second run finds nothing new
        with responses.RequestsMock() as fake:
            fake.add_callback(
                responses.GET,
                "https://api.stripe.com/v1/balance_transactions",
                callback=listing,
            )
            services.reconcile_day(provider="stripe", day=today)
    assert "expand%5B0%5D=data.source" in asked[0]
    found = {
        (item.kind, item.key): (item.provider_amount, item.ledger_amount)
        for item in ReconciliationItem.objects.all()
    }
    assert found == {
        ("amount_difference", "txn_short"): ("69.00", "70.00 USD"),
        ("missing_credit", "txn_waiting"): ("20.00", ""),
        ("unknown_payment", "txn_stranger"): ("9.99", ""),
        ("missing_reversal", "txn_refund"): ("50.00", ""),
        ("not_at_provider", f"deposit:{lost.pk}"): ("", "10.00"),
    }
    # an operator resolves one, with a note; the audit trail says who and why
    operator = make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)
    item = ReconciliationItem.objects.get(kind="missing_credit")
    with pytest.raises(ApplicationError) as info:
        services.reconciliation_resolve(item=item, operator=operator, note="ok")
    assert info.value.code == "note_required"
    services.reconciliation_resolve(
        item=item,
        operator=operator,
        note="Webhook lost in the Stripe outage; replayed it from the dashboard.",
    )
    item.refresh_from_db()
    assert (item.status, item.resolved_by) == ("resolved", operator)
    event = AuditEvent.objects.get(code=AuditCode.RECONCILIATION_RESOLVED)
    assert (event.acting_user, event.user, event.extra["kind"]) == (
        operator,
        alice,
        "missing_credit",
    )
    with pytest.raises(ApplicationError) as info:
        services.reconciliation_resolve(
            item=item, operator=operator, note="Once more, with feeling."
        )
    assert info.value.code == "invalid_transition"
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_razorpay_reconciliation_reads_payments_and_refunds(alice, inr):
    from django.utils import timezone

    from wallet.models import ReconciliationItem

    deposit = razorpay_deposit(alice, inr, 10_000)
    deliver_razorpay(link_paid(deposit), "evt_paid")
    payments = {
        "entity": "collection",
        "count": 2,
        "items": [
            {"id": f"pay_{deposit.pk}", "amount": 10_000, "currency": "INR",
             "status": "captured", "notes": {"deposit": str(deposit.pk)}},
            {"id": "pay_other", "amount": 500, "currency": "INR",
             "status": "failed", "notes": []},
        ],
    }  # fmt: skip
    refunds = {
        "entity": "collection",
        "count": 1,
        "items": [
            {"id": "rfnd_9", "amount": 2_500, "currency": "INR",
             "payment_id": f"pay_{deposit.pk}", "status": "processed"},
        ],
    }  # fmt: skip
    with responses.RequestsMock() as fake:
        fake.get("https://api.razorpay.com/v1/payments", json=payments)
        fake.get("https://api.razorpay.com/v1/refunds", json=refunds)
        services.reconcile_day(provider="razorpay", day=timezone.now().date())
    assert list(ReconciliationItem.objects.values_list("kind", "key")) == [
        ("missing_reversal", "rfnd_9")
    ]


@pytest.mark.kyc_verified
def test_the_wallet_page_offers_each_enabled_rail(alice, usd):
    from django.test import Client

    browser = Client()
    browser.force_login(alice, backend="accounts.backends.EmailBackend")
    page = browser.get("/wallet/").content.decode()
    for label in ("Sandbox (play money)", "Card (Stripe)", "UPI, card or netbanking"):
        assert label in page
    with responses.RequestsMock() as fake:
        fake.post(
            "https://api.stripe.com/v1/checkout/sessions",
            json={
                "id": "cs_test_page",
                "object": "checkout.session",
                "url": "https://checkout.stripe.com/c/pay/cs_test_page",
            },
        )
        response = browser.post(
            "/wallet/deposit/",
            {"asset": "USD", "amount": "20.00", "provider": "stripe",
             "form_key": "0123456789abcdef"},
        )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_page"
    assert Deposit.objects.get().provider == "stripe"
    refused = browser.post(
        "/wallet/deposit/",
        {"asset": "USD", "amount": "20.00", "provider": "paypal",
         "form_key": "fedcba9876543210"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert Deposit.objects.count() == 1
