"""Demo assets and funds. Idempotent: alice and bob are funded through real
deposits (sandbox provider, credited by a signed webhook) exactly once, and get
confirmed beneficiaries already past their cool-off (so the tour can withdraw)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from wallet.destinations import PayoutRail
from wallet.models import Asset, Beneficiary, Deposit
from wallet.money import to_units

_IBAN = PayoutRail.BANK_IBAN
_IN = PayoutRail.BANK_ACCOUNT_IN
_UPI = PayoutRail.UPI
_BTC = PayoutRail.BITCOIN
_ETH = PayoutRail.ETHEREUM

# code, name, decimals, kind, daily withdrawal limit (decimal string, "0" = none),
# payout rails (none: not withdrawable)
DEMO_ASSETS: tuple[tuple[str, str, int, Asset.Kind, str, list[PayoutRail]], ...] = (
    ("USD", "US Dollar", 2, Asset.Kind.FIAT, "50000", [_IBAN]),
    ("INR", "Indian Rupee", 2, Asset.Kind.FIAT, "2000000", [_IN, _UPI]),
    ("BTC", "Bitcoin", 8, Asset.Kind.CRYPTO, "2", [_BTC]),
    ("ETH", "Ether", 8, Asset.Kind.CRYPTO, "50", [_ETH]),
    ("RELIANCE", "Reliance Industries", 0, Asset.Kind.SECURITY, "0", []),
    ("TCS", "Tata Consultancy Services", 0, Asset.Kind.SECURITY, "0", []),
)

# Confirmed long ago, so the demo tour can withdraw at once.
DEMO_BENEFICIARIES = {
    "alice@example.com": (
        (_IBAN, "DE89 3704 0044 0532 0130 00", "Alice's bank"),
        (_IN, "50100012345678 HDFC0001234", "Alice's HDFC account"),
        (_UPI, "alice@okhdfc", "Alice's UPI"),
        (_BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "Alice's cold wallet"),
    ),
    "bob@example.com": (
        (_IBAN, "GB33BUKB20201555555555", "Bob's bank"),
        (_ETH, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "Bob's Ethereum wallet"),
    ),
}

DEMO_FUNDS = {
    "alice@example.com": (("USD", "100000.00"), ("INR", "500000.00"), ("BTC", "2")),
    "bob@example.com": (("USD", "100000.00"), ("ETH", "40"), ("RELIANCE", "500")),
}


def seed(*, out) -> None:
    from accounts.models import User
    from wallet.providers.sandbox import SandboxProvider
    from wallet.services import deposit_create, deposit_webhook_process

    for code, name, decimals, kind, limit, rails in DEMO_ASSETS:
        Asset.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "decimals": decimals,
                "kind": kind,
                "daily_withdrawal_limit": to_units(
                    limit, decimals=decimals, field="limit", allow_zero=True
                ),
                "payout_rails": rails,
            },
        )
    out("Assets: " + ", ".join(code for code, *_ in DEMO_ASSETS))
    for email, funds in DEMO_FUNDS.items():
        user = User.objects.filter(email=email).first()
        if user is None:
            continue
        if Deposit.objects.filter(user=user, status=Deposit.Status.CREDITED).exists():
            out(f"  {email} already funded")
            continue
        for code, amount in funds:
            asset = Asset.objects.get(code=code)
            deposit = deposit_create(
                user=user,
                asset=asset,
                amount=to_units(amount, decimals=asset.decimals, field="amount"),
            )
            headers, body = SandboxProvider().build_webhook(
                deposit=deposit, outcome="succeeded"
            )
            deposit_webhook_process(provider="sandbox", headers=headers, body=body)
        out(f"  {email} funded: " + ", ".join(f"{a} {c}" for c, a in funds))
    _seed_beneficiaries(out=out)


def _seed_beneficiaries(*, out) -> None:
    from accounts.models import User
    from wallet.services import beneficiary_seed_confirmed

    confirmed_at = timezone.now() - timedelta(
        hours=settings.WALLET_BENEFICIARY_COOLOFF_HOURS + 24
    )
    for email, rows in DEMO_BENEFICIARIES.items():
        user = User.objects.filter(email=email).first()
        if user is None:
            continue
        if Beneficiary.objects.filter(user=user).exists():
            out(f"  {email} already has beneficiaries")
            continue
        for rail, destination, label in rows:
            beneficiary_seed_confirmed(
                user=user,
                rail=rail,
                destination=destination,
                label=label,
                confirmed_at=confirmed_at,
            )
        out(f"  {email} beneficiaries: " + ", ".join(label for *_, label in rows))
