"""Demo market maker accounts, made through the real services (idempotent).

- marketmaker@example.com quotes the ladders; marketmaker-taker@example.com sends
  the small crossing orders (a second account: self-trade prevention would expire
  a cross against the bot's own quotes). Both are traders, KYC-approved by the
  demo reviewer through the KYC case workflow, and funded by sandbox deposits
  credited through the signed webhook, like alice and bob.
- The demo instruments the market maker quotes (BTC-USD, ETH-USD) are created
  here only if the trading seed has not created them already; every demo
  instrument (RELIANCE-INR and TCS-INR too) is quoted.
- A few days of trades between the two bots (marketdata/history.py), once, so
  the 1h, 4h and 1d candles have history.
"""

from __future__ import annotations

import io
from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from marketdata.marketmaker import MAKER_EMAIL, TAKER_EMAIL

BOTS = {
    MAKER_EMAIL: (
        "Market Maker Bot",
        (
            ("USD", "5000000.00"),
            ("BTC", "15"),
            ("ETH", "250"),
            ("INR", "50000000.00"),
            ("RELIANCE", "5000"),
            ("TCS", "4000"),
        ),
    ),
    TAKER_EMAIL: (
        "Market Taker Bot",
        (
            ("USD", "1000000.00"),
            ("BTC", "5"),
            ("ETH", "80"),
            ("INR", "10000000.00"),
            ("RELIANCE", "1000"),
            ("TCS", "800"),
        ),
    ),
}
# The same steps as trading.seed's (which runs first and wins when present):
# symbol, base, quote, tick_size (quote units), lot_size (base units), min notional
DEMO_INSTRUMENTS = (
    ("BTC-USD", "BTC", "USD", 100, 1_000_000, 1000),  # price 1.00, qty 0.01, 10.00
    ("ETH-USD", "ETH", "USD", 10, 10_000_000, 1000),  # price 0.10, qty 0.1, 10.00
)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 40), (30, 110, 90)).save(out, format="PNG")
    return out.getvalue()


def _kyc_approve(user, reviewer) -> None:
    from kyc import services

    services.kyc_profile_update(
        user=user,
        legal_name=user.full_name,
        date_of_birth=date(1990, 1, 15),
        country="GB",
        address_line1="1 Liquidity Lane",
        city="London",
        postal_code="EC2N 1AA",
        id_type="passport",
        id_number=f"MM{user.pk:07d}",
    )
    for doc_type in ("passport", "proof_of_address", "selfie"):
        services.kyc_document_upload(
            user=user,
            doc_type=doc_type,
            uploaded=SimpleUploadedFile(f"{doc_type}.png", _png()),
        )
    case = services.kyc_submit(user=user)
    services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    for document in case.documents.all():
        services.kyc_document_decide(
            case_id=case.pk, document_id=document.pk, reviewer=reviewer, accept=True
        )
    services.kyc_case_approve(case_id=case.pk, reviewer=reviewer)


def _fund(user, funds) -> None:
    from wallet.models import Asset
    from wallet.money import to_units
    from wallet.providers.sandbox import SandboxProvider
    from wallet.services import deposit_create, deposit_webhook_process

    for code, amount in funds:
        asset = Asset.objects.filter(code=code).first()
        if asset is None:  # not seeded (wallet.seed makes every demo asset)
            continue
        deposit = deposit_create(
            user=user,
            asset=asset,
            amount=to_units(amount, decimals=asset.decimals, field="amount"),
        )
        headers, body = SandboxProvider().build_webhook(
            deposit=deposit, outcome="succeeded"
        )
        deposit_webhook_process(provider="sandbox", headers=headers, body=body)


def _instruments(out) -> None:
    from trading.models import Instrument
    from trading.services import instrument_create
    from wallet.models import Asset

    for symbol, base, quote, tick, lot, min_notional in DEMO_INSTRUMENTS:
        if Instrument.objects.filter(symbol=symbol).exists():
            continue
        assets = {a.code: a for a in Asset.objects.filter(code__in=(base, quote))}
        if len(assets) < 2:
            continue
        instrument_create(
            symbol=symbol,
            base=assets[base],
            quote=assets[quote],
            tick_size=tick,
            lot_size=lot,
            min_notional=min_notional,
        )
        out(f"  instrument {symbol} created for the market maker")


def seed(*, out) -> None:
    from accounts import services as account_services
    from accounts.models import User
    from accounts.roles import Role
    from accounts.seed import DEMO_PASSWORD
    from kyc.models import KycProfile
    from wallet.models import Deposit

    out("Market maker:")
    _instruments(out)
    reviewer = User.objects.filter(email__iexact="reviewer@example.com").first()
    for email, (name, funds) in BOTS.items():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = account_services.user_register(
                email=email,
                password=DEMO_PASSWORD,
                full_name=name,
                email_verified=True,
                accept_terms=True,
            )
            account_services.user_roles_bootstrap(user=user, roles=[Role.TRADER])
        profile = KycProfile.objects.filter(user=user).first()
        if reviewer is not None and (profile is None or not profile.cases.exists()):
            _kyc_approve(user, reviewer)
        funded = set(
            Deposit.objects.filter(
                user=user, status=Deposit.Status.CREDITED
            ).values_list("asset__code", flat=True)
        )
        _fund(user, [(code, amount) for code, amount in funds if code not in funded])
        out(f"  {email:<32} " + ", ".join(f"{a} {c}" for c, a in funds))
    maker = User.objects.filter(email__iexact=MAKER_EMAIL).first()
    taker = User.objects.filter(email__iexact=TAKER_EMAIL).first()
    if maker is not None and taker is not None and reviewer is not None:
        from marketdata.history import history_seed

        out("History:")
        history_seed(maker=maker, taker=taker, out=out)
