"""The contract between the wallet and a payment provider."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wallet.models import Deposit


@dataclass(frozen=True)
class PaymentIntent:
    """What the provider answers when we create a payment."""

    reference: str  # the provider's id for the payment; unique per provider
    checkout_url: str  # where the user goes to pay


@dataclass(frozen=True)
class WebhookEvent:
    """A verified notification from the provider."""

    event_id: str
    reference: str
    status: str  # the provider's own word; `map_status` interprets it
    amount: str  # decimal string, as the provider states it
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
    def map_status(self, status: str) -> str:
        """Provider status -> a `Deposit.Status` (pending, credited, failed)."""
