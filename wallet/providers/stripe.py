"""Stripe: card deposits through a hosted Checkout Session, through Stripe's SDK.

`create_payment` opens a Checkout Session (mode "payment") for the deposit's
amount; the user pays on Stripe's page. Stripe then calls
`/api/v1/wallet/webhooks/stripe`; `stripe.Webhook.construct_event` checks the
`Stripe-Signature` header (HMAC over "<t>.<body>" with the endpoint's secret,
five minutes of tolerance). The events the wallet acts on:

- `checkout.session.completed` (paid) and
  `checkout.session.async_payment_succeeded`: credit, by the session id, with
  the amount and currency Stripe states; the session's PaymentIntent is kept;
- `checkout.session.async_payment_failed`, `checkout.session.expired`: failed;
- `refund.created` (and `refund.updated` when it succeeds), by the
  PaymentIntent: a refund of that amount;
- `charge.dispute.closed` with status `lost`: a reversal of the disputed amount.

Amounts are in the currency's minor units: Stripe's zero-decimal currencies
have none. Settings: STRIPE_ENABLED, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET,
PAYMENTS_RETURN_BASE_URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe
from django.conf import settings
from django.urls import reverse

from config.domain_errors import ApplicationError, Unavailable
from wallet.errors import WalletErrorCode as Code
from wallet.models import Deposit
from wallet.providers.base import (
    EventKind,
    PaymentIntent,
    PaymentProvider,
    SettlementLine,
    WebhookEvent,
    minor_to_decimal,
)

SIGNATURE_HEADER = "Stripe-Signature"
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)


def exponent(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def _client() -> stripe.StripeClient:
    key = settings.STRIPE_SECRET_KEY
    if not settings.STRIPE_ENABLED or not key:
        raise Unavailable(
            Code.PROVIDER_UNAVAILABLE, "provider: Stripe is not enabled here."
        )
    return stripe.StripeClient(key, max_network_retries=2)


def _to_minor(deposit: Deposit) -> int:
    """The deposit's amount in the currency's minor units (the asset's units
    rescaled: an asset with more decimals than the currency must be whole)."""
    shift = deposit.asset.decimals - exponent(deposit.asset.code)
    if shift >= 0:
        minor, rest = divmod(deposit.amount, 10**shift)
        if rest:
            raise ApplicationError(
                Code.INVALID_AMOUNT,
                f"amount: Stripe charges {deposit.asset.code} in "
                f"{exponent(deposit.asset.code)} decimals.",
                details={"amount": ["Too many decimals for a card payment."]},
            )
        return minor
    return deposit.amount * 10 ** (-shift)


class StripeProvider(PaymentProvider):
    name = "stripe"

    def create_payment(self, *, deposit: Deposit) -> PaymentIntent:
        client = _client()
        base = settings.PAYMENTS_RETURN_BASE_URL.rstrip("/")
        back = base + reverse("wallet:home")
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "client_reference_id": str(deposit.pk),
                "customer_email": deposit.user.email,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": deposit.asset.code.lower(),
                            "unit_amount": _to_minor(deposit),
                            "product_data": {
                                "name": f"Deposit {deposit.pk} to your wallet"
                            },
                        },
                    }
                ],
                "metadata": {"deposit": str(deposit.pk)},
                "payment_intent_data": {"metadata": {"deposit": str(deposit.pk)}},
                "success_url": f"{back}?deposit={deposit.pk}",
                "cancel_url": f"{back}?deposit={deposit.pk}&cancelled=1",
            },
            options={"idempotency_key": f"deposit-{deposit.pk}"},
        )
        return PaymentIntent(reference=session.id, checkout_url=session.url or "")

    def verify_webhook(
        self, *, headers: Mapping[str, str], body: bytes
    ) -> WebhookEvent:
        secret = settings.STRIPE_WEBHOOK_SECRET
        if not settings.STRIPE_ENABLED or not secret:
            raise Unavailable(
                Code.PROVIDER_UNAVAILABLE, "provider: Stripe is not enabled here."
            )
        header = headers.get(SIGNATURE_HEADER, "")
        try:
            event = stripe.Webhook.construct_event(body, header, secret)
        except stripe.SignatureVerificationError as exc:
            stale = "outside the tolerance zone" in str(exc)
            raise ApplicationError(
                Code.STALE_SIGNATURE if stale else Code.INVALID_SIGNATURE,
                f"{SIGNATURE_HEADER}: "
                + (
                    "timestamp is outside the 300s window."
                    if stale
                    else "signature does not match the body."
                ),
            ) from exc
        except ValueError as exc:
            raise ApplicationError(
                Code.INVALID_WEBHOOK, "body: not a Stripe event."
            ) from exc
        return _event(event.to_dict())

    def event_from_payload(
        self, *, event_id: str, payload: Mapping[str, Any]
    ) -> WebhookEvent:
        return _event(dict(payload))

    def settlement_lines(self, *, since: int, until: int) -> list[SettlementLine]:
        """Stripe's balance transactions of the period: charges, refunds and
        dispute adjustments, each with its source expanded to find the
        PaymentIntent (and through it our Checkout Session)."""
        client = _client()
        lines = []
        page = client.v1.balance_transactions.list(
            params={
                "created": {"gte": since, "lt": until},
                "limit": 100,
                "expand": ["data.source"],
            }
        )
        for item in page.auto_paging_iter():
            line = _settlement_line(item.to_dict())
            if line is not None:
                lines.append(line)
        return lines


def _event(payload: dict[str, Any]) -> WebhookEvent:
    kind_name = payload.get("type", "")
    obj = payload.get("data", {}).get("object", {})
    event_id = str(payload.get("id", ""))
    currency = str(obj.get("currency", "")).upper()

    def amount(field: str) -> str | None:
        value = obj.get(field)
        return None if value is None else minor_to_decimal(value, exponent(currency))

    if kind_name in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ):
        paid = obj.get("payment_status") in ("paid", "no_payment_required")
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.PAYMENT_SUCCEEDED if paid else EventKind.PAYMENT_PENDING,
            reference=str(obj.get("id", "")),
            amount=amount("amount_total"),
            currency=currency,
            payment_id=str(obj.get("payment_intent") or ""),
            payload=payload,
        )
    if kind_name in (
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    ):
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.PAYMENT_FAILED,
            reference=str(obj.get("id", "")),
            amount=amount("amount_total"),
            currency=currency,
            payload=payload,
        )
    if kind_name in ("refund.created", "refund.updated") and obj.get("status") in (
        "succeeded",
        "pending",
    ):
        # a pending refund has left the merchant's balance already
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.REFUND,
            reference=str(obj.get("payment_intent") or ""),
            amount=amount("amount"),
            currency=currency,
            reversal_id=str(obj.get("id", "")),
            payload=payload,
        )
    if kind_name == "charge.dispute.closed" and obj.get("status") == "lost":
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.DISPUTE_LOST,
            reference=str(obj.get("payment_intent") or ""),
            amount=amount("amount"),
            currency=currency,
            reversal_id=str(obj.get("id", "")),
            payload=payload,
        )
    return WebhookEvent(
        event_id=event_id,
        kind=EventKind.OTHER,
        reference=str(obj.get("id", "")),
        amount=None,
        currency=currency,
        payload=payload,
    )


_LINE_KINDS = {
    "charge": EventKind.PAYMENT_SUCCEEDED,
    "payment": EventKind.PAYMENT_SUCCEEDED,
    "refund": EventKind.REFUND,
    "payment_refund": EventKind.REFUND,
    "adjustment": EventKind.DISPUTE_LOST,
}


def _settlement_line(item: dict[str, Any]) -> SettlementLine | None:
    kind = _LINE_KINDS.get(item.get("type", ""))
    source = item.get("source") or {}
    if kind is None or not isinstance(source, dict):
        return None
    if kind is EventKind.DISPUTE_LOST and source.get("object") != "dispute":
        return None
    currency = str(item.get("currency", "")).upper()
    return SettlementLine(
        line_id=str(item.get("id", "")),
        kind=kind,
        payment_id=str(source.get("payment_intent") or ""),
        reversal_id=""
        if kind is EventKind.PAYMENT_SUCCEEDED
        else str(source.get("id", "")),
        deposit_id=str((source.get("metadata") or {}).get("deposit", "")),
        amount=minor_to_decimal(abs(int(item.get("amount", 0))), exponent(currency)),
        currency=currency,
    )
