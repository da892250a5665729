"""Payment providers for deposits. Each one implements `PaymentProvider`; the
registry maps the name used in URLs (`/api/v1/wallet/webhooks/<name>`) to a class.
Real providers (Stripe, Razorpay, UPI) plug in by adding a line here."""

from __future__ import annotations

from django.utils.module_loading import import_string

from config.domain_errors import NotFound
from wallet.errors import WalletErrorCode as Code
from wallet.providers.base import PaymentIntent, PaymentProvider, WebhookEvent

PROVIDERS: dict[str, str] = {
    "sandbox": "wallet.providers.sandbox.SandboxProvider",
}


def provider_get(name: str) -> PaymentProvider:
    dotted = PROVIDERS.get(name)
    if dotted is None:
        raise NotFound(Code.UNKNOWN_PROVIDER, f"provider: unknown provider {name!r}.")
    return import_string(dotted)()


__all__ = [
    "PROVIDERS",
    "PaymentIntent",
    "PaymentProvider",
    "WebhookEvent",
    "provider_get",
]
