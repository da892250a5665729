"""Payout providers: how an approved withdrawal's money leaves.

- `manual`: an operator pays out on the bank's or the chain's own tool and
  records its reference on the withdrawal (`approved -> sent`), then marks it
  completed or failed when the rail says so.
- `sandbox`: a rail that behaves like a real one: sending returns its reference
  at once, and the "bank" later calls our payout webhook
  (`/api/v1/wallet/payout-webhooks/sandbox`), signed like the sandbox deposit
  provider (HMAC-SHA256 over "<t>.<body>", `X-Sandbox-Signature`), with
  `payout.paid` or `payout.failed`; the wallet then completes the withdrawal or
  returns the funds.

WALLET_PAYOUT_PROVIDER picks one (manual by default; sandbox needs
SANDBOX_PAYMENTS_ENABLED)."""

from __future__ import annotations

import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from config.domain_errors import ApplicationError, NotFound
from wallet.errors import WalletErrorCode as Code
from wallet.providers import sandbox

if TYPE_CHECKING:
    from wallet.models import Withdrawal


@dataclass(frozen=True)
class PayoutEvent:
    """A verified payout notification: the rail paid, or returned the money."""

    event_id: str
    reference: str  # the payout reference `send` returned
    paid: bool
    reason: str  # why it failed, in the rail's words (empty when paid)


class PayoutProvider(ABC):
    name: str
    # True: `send` pays out and returns the reference; False: an operator pays
    # out elsewhere and types the reference in
    automatic: bool

    @abstractmethod
    def send(self, *, withdrawal: Withdrawal) -> str:
        """Pay the withdrawal out (idempotent per withdrawal); its reference."""

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes) -> PayoutEvent:
        raise NotFound(
            Code.UNKNOWN_PROVIDER, f"provider: {self.name} sends no webhooks."
        )


class ManualPayout(PayoutProvider):
    name = "manual"
    automatic = False

    def send(self, *, withdrawal: Withdrawal) -> str:
        problem = "Required: the rail's reference (1 to 128 characters)."
        raise ApplicationError(
            Code.PAYOUT_REFERENCE_REQUIRED,
            f"payout_reference: {problem}",
            details={"payout_reference": [problem]},
        )


class SandboxPayout(PayoutProvider):
    name = "sandbox"
    automatic = True

    def send(self, *, withdrawal: Withdrawal) -> str:
        sandbox._secret()  # refuses when the sandbox is off
        return f"sbxpo_{withdrawal.pk}_{secrets.token_hex(6)}"

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes) -> PayoutEvent:
        sandbox.signature_check(headers=headers, body=body)
        try:
            payload = json.loads(body)
            data = payload["data"]
            kind = payload["type"]
            if kind not in ("payout.paid", "payout.failed"):
                raise ValueError(kind)
            return PayoutEvent(
                event_id=str(payload["id"]),
                reference=str(data["reference"]),
                paid=kind == "payout.paid",
                reason=str(data.get("reason", ""))[:200],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ApplicationError(
                Code.INVALID_WEBHOOK, "body: not a sandbox payout event."
            ) from exc

    def build_webhook(
        self,
        *,
        reference: str,
        paid: bool,
        reason: str = "",
        timestamp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The signed request the sandbox rail sends (headers, raw body)."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        body = json.dumps(
            {
                "id": f"evt_{secrets.token_hex(8)}",
                "type": "payout.paid" if paid else "payout.failed",
                "created": timestamp,
                "data": {"reference": reference, "reason": reason},
            }
        ).encode()
        return {sandbox.SIGNATURE_HEADER: sandbox.sign(body, timestamp=timestamp)}, body


PAYOUT_PROVIDERS: dict[str, type[PayoutProvider]] = {
    "manual": ManualPayout,
    "sandbox": SandboxPayout,
}


def payout_provider_get(name: str | None = None) -> PayoutProvider:
    """The named payout provider (default WALLET_PAYOUT_PROVIDER); 404
    `unknown_provider` for another name, or the sandbox when it is off."""
    chosen = name or settings.WALLET_PAYOUT_PROVIDER
    provider = PAYOUT_PROVIDERS.get(chosen)
    if provider is None or (
        chosen == "sandbox" and not settings.SANDBOX_PAYMENTS_ENABLED
    ):
        raise NotFound(
            Code.UNKNOWN_PROVIDER, f"provider: unknown payout rail {chosen!r}."
        )
    return provider()
