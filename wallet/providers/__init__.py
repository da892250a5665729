"""Payment providers for deposits. Each one implements `PaymentProvider`; the
registry maps the name used in requests and URLs
(`/api/v1/wallet/webhooks/<name>`) to a class and to the setting that enables
it. A provider that is not enabled does not exist for users (a deposit naming it
is a 400 on the `provider` field) nor for webhooks (404)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from config.domain_errors import ApplicationError, NotFound
from wallet.errors import WalletErrorCode as Code
from wallet.providers.base import (
    EventKind,
    PaymentIntent,
    PaymentProvider,
    SettlementLine,
    WebhookEvent,
)

# name -> (class, the setting that enables it)
PROVIDERS: dict[str, tuple[str, str]] = {
    "sandbox": ("wallet.providers.sandbox.SandboxProvider", "SANDBOX_PAYMENTS_ENABLED"),
    "stripe": ("wallet.providers.stripe.StripeProvider", "STRIPE_ENABLED"),
    "razorpay": ("wallet.providers.razorpay.RazorpayProvider", "RAZORPAY_ENABLED"),
}


def providers_enabled() -> list[str]:
    """The providers this deployment accepts deposits through, in registry order."""
    return [
        name
        for name, (_, setting) in PROVIDERS.items()
        if getattr(settings, setting, False)
    ]


def provider_default() -> str | None:
    """WALLET_DEFAULT_PROVIDER when enabled, else the first enabled one."""
    enabled = providers_enabled()
    preferred = getattr(settings, "WALLET_DEFAULT_PROVIDER", "")
    if preferred in enabled:
        return preferred
    return enabled[0] if enabled else None


def provider_get(name: str) -> PaymentProvider:
    """An enabled provider by name (webhooks: 404 `unknown_provider` else)."""
    if name not in providers_enabled():
        raise NotFound(Code.UNKNOWN_PROVIDER, f"provider: unknown provider {name!r}.")
    return import_string(PROVIDERS[name][0])()


def provider_choose(name: str | None) -> PaymentProvider:
    """The provider a deposit request names (or the default): 400
    `unknown_provider` naming the field when it is unknown or not enabled here,
    never a silent fallback to another."""
    enabled = providers_enabled()
    chosen = (
        name or provider_default() or getattr(settings, "WALLET_DEFAULT_PROVIDER", "")
    )
    if chosen not in enabled:
        problem = (
            f"{chosen!r} is not a payment provider here: one of {', '.join(enabled)}."
            if enabled
            else f"{chosen!r} is not enabled here: deposits are off."
        )
        raise ApplicationError(
            Code.UNKNOWN_PROVIDER,
            f"provider: {problem}",
            details={"provider": [problem]},
        )
    return import_string(PROVIDERS[chosen][0])()


__all__ = [
    "PROVIDERS",
    "EventKind",
    "PaymentIntent",
    "PaymentProvider",
    "SettlementLine",
    "WebhookEvent",
    "provider_choose",
    "provider_default",
    "provider_get",
    "providers_enabled",
]
