"""A sandbox provider that behaves like a real one.

Creating a payment returns a checkout URL on this site (`/wallet/sandbox/checkout/
<reference>/`). When the user presses Pay or Fail there, the "provider" sends a
webhook to us: a JSON body signed with HMAC-SHA256 over `"<t>.<body>"`, in the header
`X-Sandbox-Signature: t=<unix seconds>,v1=<hex>`. We verify the signature with the
shared secret (`SANDBOX_WEBHOOK_SECRET`) and refuse timestamps older or newer than
`SIGNATURE_TOLERANCE` seconds (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse

from config.domain_errors import ApplicationError, Unavailable
from wallet.errors import WalletErrorCode as Code
from wallet.models import Deposit
from wallet.money import format_units
from wallet.providers.base import (
    EventKind,
    PaymentIntent,
    PaymentProvider,
    WebhookEvent,
)

SIGNATURE_HEADER = "X-Sandbox-Signature"
SIGNATURE_TOLERANCE = 300  # seconds
OUTCOMES = ("succeeded", "failed", "refunded")
_KINDS = {
    "succeeded": EventKind.PAYMENT_SUCCEEDED,
    "failed": EventKind.PAYMENT_FAILED,
    "refunded": EventKind.REFUND,  # the "provider" refunded (part of) a payment
}


def _secret() -> bytes:
    secret = getattr(settings, "SANDBOX_WEBHOOK_SECRET", "")
    if not secret or not getattr(settings, "SANDBOX_PAYMENTS_ENABLED", False):
        raise Unavailable(
            Code.PROVIDER_UNAVAILABLE,
            "provider: the sandbox provider is not enabled here.",
        )
    return secret.encode()


def sign(body: bytes, *, timestamp: int, secret: bytes | None = None) -> str:
    """The signature header value for `body` at `timestamp`."""
    key = secret if secret is not None else _secret()
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(Code.INVALID_SIGNATURE, f"{SIGNATURE_HEADER}: {message}")


def signature_check(
    *, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> None:
    """The sandbox's signature over the raw body, and its age (replays): the
    deposit and payout webhooks of the sandbox both use it."""
    secret = _secret()
    header = headers.get(SIGNATURE_HEADER, "")
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if not parts.get("t", "").isdigit() or not parts.get("v1"):
        raise _invalid("missing or malformed signature header.")
    timestamp = int(parts["t"])
    expected = sign(body, timestamp=timestamp, secret=secret).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts["v1"]):
        raise _invalid("signature does not match the body.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > SIGNATURE_TOLERANCE:
        raise ApplicationError(
            Code.STALE_SIGNATURE,
            f"{SIGNATURE_HEADER}: timestamp is outside the "
            f"{SIGNATURE_TOLERANCE}s window.",
        )


class SandboxProvider(PaymentProvider):
    name = "sandbox"

    def create_payment(self, *, deposit: Deposit) -> PaymentIntent:
        _secret()
        reference = f"sbx_{secrets.token_hex(12)}"
        url = reverse("wallet:sandbox-checkout", kwargs={"reference": reference})
        return PaymentIntent(reference=reference, checkout_url=url)

    def verify_webhook(
        self, *, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> WebhookEvent:
        signature_check(headers=headers, body=body, now=now)
        try:
            return self.event_from_payload(event_id="", payload=json.loads(body))
        except (ValueError, KeyError, TypeError) as exc:
            raise ApplicationError(
                Code.INVALID_WEBHOOK, "body: not a sandbox payment event."
            ) from exc

    def event_from_payload(
        self, *, event_id: str, payload: Mapping[str, Any]
    ) -> WebhookEvent:
        data = payload["data"]
        return WebhookEvent(
            event_id=str(payload["id"]),
            kind=_KINDS.get(str(data["status"]), EventKind.PAYMENT_PENDING),
            reference=str(data["reference"]),
            amount=str(data["amount"]),
            currency=str(data["currency"]),
            payment_id=str(data["reference"]),
            reversal_id=str(data.get("refund_id", "")),
            payload=payload,
        )

    # --- the provider's side (what the real provider would run) -----------------

    def build_webhook(
        self,
        *,
        deposit: Deposit,
        outcome: str,
        timestamp: int | None = None,
        amount: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The signed request the sandbox sends for `deposit` (headers, raw body);
        "refunded" refunds `amount` (default all of it) under a new refund id."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        timestamp = int(time.time()) if timestamp is None else timestamp
        units = deposit.amount if amount is None else amount
        refund = (
            {"refund_id": f"rf_{secrets.token_hex(6)}"} if outcome == "refunded" else {}
        )
        body = json.dumps(
            {
                "id": f"evt_{secrets.token_hex(8)}",
                "type": f"payment.{outcome}",
                "created": timestamp,
                "data": {
                    "reference": deposit.provider_reference,
                    "status": outcome,
                    "amount": format_units(units, deposit.asset.decimals),
                    "currency": deposit.asset.code,
                    **refund,
                },
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, timestamp=timestamp),
        }
        return headers, body
