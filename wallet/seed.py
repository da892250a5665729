"""Demo assets and funds. Idempotent: alice and bob are funded through real
deposits (sandbox provider, credited by a signed webhook) exactly once."""

from __future__ import annotations

from wallet.models import Asset, Deposit
from wallet.money import to_units

# code, name, decimals, kind, daily withdrawal limit (decimal string, "0" = none)
DEMO_ASSETS = (
    ("USD", "US Dollar", 2, Asset.Kind.FIAT, "50000"),
    ("INR", "Indian Rupee", 2, Asset.Kind.FIAT, "2000000"),
    ("BTC", "Bitcoin", 8, Asset.Kind.CRYPTO, "2"),
    ("ETH", "Ether", 8, Asset.Kind.CRYPTO, "50"),
    ("RELIANCE", "Reliance Industries", 0, Asset.Kind.SECURITY, "0"),
    ("TCS", "Tata Consultancy Services", 0, Asset.Kind.SECURITY, "0"),
)

DEMO_FUNDS = {
    "alice@example.com": (("USD", "100000.00"), ("INR", "500000.00"), ("BTC", "2")),
    "bob@example.com": (("USD", "100000.00"), ("ETH", "40"), ("RELIANCE", "500")),
}


def seed(*, out) -> None:
    from accounts.models import User
    from wallet.providers.sandbox import SandboxProvider
    from wallet.services import deposit_create, deposit_webhook_process

    for code, name, decimals, kind, limit in DEMO_ASSETS:
        Asset.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "decimals": decimals,
                "kind": kind,
                "daily_withdrawal_limit": to_units(
                    limit, decimals=decimals, field="limit", allow_zero=True
                ),
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
