"""Razorpay: deposits in INR by card, UPI, netbanking or wallet through a hosted
Payment Link, through Razorpay's SDK.

`create_payment` creates a Payment Link for the deposit's amount (its
`reference_id` is the deposit id, its notes carry it too); the user pays on
Razorpay's page with any method the account enables, UPI among them. Razorpay
then calls `/api/v1/wallet/webhooks/razorpay`; the `X-Razorpay-Signature`
header (HMAC-SHA256 of the raw body with the webhook secret) is checked with
the SDK's `utility.verify_webhook_signature`. Razorpay's signature carries no
timestamp: replays are refused by the event id (`X-Razorpay-Event-Id`), which
the wallet keeps. The events the wallet acts on:

- `payment_link.paid`: credit, by the link id, with the payment's amount and
  currency; the payment id is kept;
- `payment_link.expired`, `payment_link.cancelled`: failed;
- `refund.processed`: a refund, by the payment id;
- `payment.dispute.lost`: a reversal of the disputed amount.

Settings: RAZORPAY_ENABLED, RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET,
RAZORPAY_WEBHOOK_SECRET, PAYMENTS_RETURN_BASE_URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import razorpay
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

SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "X-Razorpay-Event-Id"
CURRENCY_EXPONENT = 2  # Razorpay's amounts are in paise (and cents, for USD)


def _unavailable() -> Unavailable:
    return Unavailable(
        Code.PROVIDER_UNAVAILABLE, "provider: Razorpay is not enabled here."
    )


def _client() -> razorpay.Client:
    if not (
        settings.RAZORPAY_ENABLED
        and settings.RAZORPAY_KEY_ID
        and settings.RAZORPAY_KEY_SECRET
    ):
        raise _unavailable()
    return razorpay.Client(
        auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET)
    )


def _to_minor(deposit: Deposit) -> int:
    shift = deposit.asset.decimals - CURRENCY_EXPONENT
    if shift >= 0:
        minor, rest = divmod(deposit.amount, 10**shift)
        if rest:
            raise ApplicationError(
                Code.INVALID_AMOUNT,
                f"amount: Razorpay charges {deposit.asset.code} in paise "
                "(two decimals).",
                details={"amount": ["Too many decimals for this payment."]},
            )
        return minor
    return deposit.amount * 10 ** (-shift)


class RazorpayProvider(PaymentProvider):
    name = "razorpay"

    def create_payment(self, *, deposit: Deposit) -> PaymentIntent:
        client = _client()
        back = settings.PAYMENTS_RETURN_BASE_URL.rstrip("/") + reverse("wallet:home")
        link = client.payment_link.create(
            {
                "amount": _to_minor(deposit),
                "currency": deposit.asset.code,
                "accept_partial": False,
                "reference_id": str(deposit.pk),
                "description": f"Deposit {deposit.pk} to your wallet",
                "customer": {"email": deposit.user.email},
                "notify": {"sms": False, "email": False},
                "notes": {"deposit": str(deposit.pk)},
                "callback_url": f"{back}?deposit={deposit.pk}",
                "callback_method": "get",
            }
        )
        return PaymentIntent(reference=link["id"], checkout_url=link["short_url"])

    def verify_webhook(
        self, *, headers: Mapping[str, str], body: bytes
    ) -> WebhookEvent:
        secret = settings.RAZORPAY_WEBHOOK_SECRET
        if not settings.RAZORPAY_ENABLED or not secret:
            raise _unavailable()
        signature = headers.get(SIGNATURE_HEADER, "")
        try:
            text = body.decode()
            # the SDK's own check (the key pair is not needed to verify)
            razorpay.Client(auth=("", "")).utility.verify_webhook_signature(
                text, signature, secret
            )
        except (razorpay.errors.SignatureVerificationError, UnicodeDecodeError) as exc:
            raise ApplicationError(
                Code.INVALID_SIGNATURE,
                f"{SIGNATURE_HEADER}: signature does not match the body.",
            ) from exc
        event_id = headers.get(EVENT_ID_HEADER, "")
        try:
            payload = json.loads(text)
            if not event_id:
                raise ValueError("no event id")
            return _event(event_id, payload)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ApplicationError(
                Code.INVALID_WEBHOOK,
                f"body: not a Razorpay event (with its {EVENT_ID_HEADER} header).",
            ) from exc

    def event_from_payload(
        self, *, event_id: str, payload: Mapping[str, Any]
    ) -> WebhookEvent:
        return _event(event_id, dict(payload))

    def settlement_lines(self, *, since: int, until: int) -> list[SettlementLine]:
        """Captured payments and processed refunds of the period (the SDK's
        payment and refund lists, 100 a page)."""
        client = _client()
        lines = []
        for fetch, kind in (
            (client.payment.all, "payment"),
            (client.refund.all, "refund"),
        ):
            skip = 0
            while True:
                page = fetch({"from": since, "to": until, "count": 100, "skip": skip})
                items = page.get("items", [])
                for item in items:
                    line = _settlement_line(kind, item)
                    if line is not None:
                        lines.append(line)
                if len(items) < 100:
                    break
                skip += 100
        return lines


def _entity(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return payload["payload"][name]["entity"]


def _amount(entity: dict[str, Any], field: str = "amount") -> str:
    return minor_to_decimal(int(entity[field]), CURRENCY_EXPONENT)


def _event(event_id: str, payload: dict[str, Any]) -> WebhookEvent:
    name = payload["event"]
    if name == "payment_link.paid":
        link, payment = _entity(payload, "payment_link"), _entity(payload, "payment")
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.PAYMENT_SUCCEEDED,
            reference=str(link["id"]),
            amount=_amount(payment),
            currency=str(payment["currency"]).upper(),
            payment_id=str(payment["id"]),
            payload=payload,
        )
    if name in ("payment_link.expired", "payment_link.cancelled"):
        link = _entity(payload, "payment_link")
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.PAYMENT_FAILED,
            reference=str(link["id"]),
            amount=_amount(link),
            currency=str(link["currency"]).upper(),
            payload=payload,
        )
    if name == "refund.processed":
        refund = _entity(payload, "refund")
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.REFUND,
            reference=str(refund["payment_id"]),
            amount=_amount(refund),
            currency=str(refund["currency"]).upper(),
            reversal_id=str(refund["id"]),
            payload=payload,
        )
    if name == "payment.dispute.lost":
        dispute = _entity(payload, "dispute")
        return WebhookEvent(
            event_id=event_id,
            kind=EventKind.DISPUTE_LOST,
            reference=str(dispute["payment_id"]),
            amount=_amount(dispute),
            currency=str(dispute["currency"]).upper(),
            reversal_id=str(dispute["id"]),
            payload=payload,
        )
    return WebhookEvent(
        event_id=event_id,
        kind=EventKind.OTHER,
        reference="",
        amount=None,
        currency="",
        payload=payload,
    )


def _settlement_line(kind: str, item: dict[str, Any]) -> SettlementLine | None:
    if kind == "payment":
        if item.get("status") not in ("captured", "refunded"):
            return None
        notes = item.get("notes") or {}
        return SettlementLine(
            line_id=str(item["id"]),
            kind=EventKind.PAYMENT_SUCCEEDED,
            payment_id=str(item["id"]),
            reversal_id="",
            deposit_id=str(notes.get("deposit", "")) if isinstance(notes, dict) else "",
            amount=_amount(item),
            currency=str(item["currency"]).upper(),
        )
    if item.get("status") != "processed":
        return None
    return SettlementLine(
        line_id=str(item["id"]),
        kind=EventKind.REFUND,
        payment_id=str(item["payment_id"]),
        reversal_id=str(item["id"]),
        deposit_id="",
        amount=_amount(item),
        currency=str(item["currency"]).upper(),
    )
