"""The contract between the wallet and a payment provider."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wallet.models import Deposit


@dataclass(frozen=True)
class PaymentIntent:
    """What the provider answers when we create a payment."""

    reference: str  # the provider's id for the payment; unique per provider
    checkout_url: str  # where the user goes to pay


class EventKind(StrEnum):
    """What a verified webhook event means for the wallet."""

    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_PENDING = "payment_pending"  # nothing final yet
    REFUND = "refund"
    DISPUTE_LOST = "dispute_lost"
    OTHER = "other"  # verified, but nothing for the wallet to do


@dataclass(frozen=True)
class WebhookEvent:
    """A verified notification from the provider, in the wallet's terms.

    For payments `reference` is the deposit's `provider_reference` and
    `payment_id` the provider's id of the payment made; refunds and disputes
    name the payment (`reference` is its payment id) and carry their own id in
    `reversal_id`. `amount` is a decimal string in `currency` (the provider's
    minor units converted by the provider class)."""

    event_id: str
    kind: EventKind
    reference: str
    amount: str | None
    currency: str
    payment_id: str = ""
    reversal_id: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SettlementLine:
    """One line of a provider's balance or settlement report (reconciliation)."""

    line_id: str
    kind: EventKind  # PAYMENT_SUCCEEDED, REFUND or DISPUTE_LOST
    payment_id: str  # the payment it belongs to
    reversal_id: str  # a refund's or dispute's own id (empty for a payment)
    deposit_id: str  # our deposit's id, when the provider kept it (metadata, notes)
    amount: str  # decimal string in `currency`
    currency: str


class PaymentProvider(ABC):
    name: str

    @abstractmethod
    def create_payment(self, *, deposit: Deposit) -> PaymentIntent:
        """Ask the provider for a payment of `deposit.amount` of `deposit.asset`."""

    @abstractmethod
    def verify_webhook(
        self, *, headers: Mapping[str, str], body: bytes
    ) -> WebhookEvent:
        """Check the signature (and its age) over the raw body and parse it.
        Raises ApplicationError `invalid_signature`, `stale_signature` or
        `invalid_webhook`."""

    @abstractmethod
    def event_from_payload(
        self, *, event_id: str, payload: Mapping[str, Any]
    ) -> WebhookEvent:
        """An event already verified and stored, read again (a refund that
        waited for its payment's success)."""

    def settlement_lines(self, *, since: int, until: int) -> list[SettlementLine]:
        """The provider's report of money moved between two Unix times, for the
        daily reconciliation. Providers without a report return nothing."""
        return []


def minor_to_decimal(amount: int, exponent: int) -> str:
    """An amount in a currency's minor units as a decimal string (1999, 2 ->
    "19.99"), exactly."""
    sign = "-" if amount < 0 else ""
    digits = str(abs(int(amount))).rjust(exponent + 1, "0")
    if not exponent:
        return sign + digits
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"
