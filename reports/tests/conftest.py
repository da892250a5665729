"""Two days of real activity made through the real services, each step at a
chosen time (time-machine), for the report tests.

Day 1 (2026-03-02): five sign-ups (a reviewer, an operator, a seller, a buyer,
carol); three KYC submissions at 08:00, decided at 09:00 (approved), 11:00
(approved) and 12:00 (rejected); the buyer's 5,000.00 USD deposit credited; one
trade of 0.3 BTC at 95,000 USD; the buyer's 1,000.00 USD withdrawal paid out; the
seller's 0.1 BTC withdrawal requested (paid out on day 2); a 250.00 USD deposit
opened at 23:00 (credited on day 2).

Day 2 (2026-03-03): dave signs up and submits KYC at 10:00, a resubmission is
requested at 10:30; the 250.00 USD deposit is credited at 00:30; one trade of
0.2 BTC at 95,000 USD at 11:00; the 0.1 BTC withdrawal is paid out at 12:00.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from accounts.roles import Role
from accounts.testing import make_user
from kyc import services as kyc_services
from kyc.models import KycCase
from kyc.tests.helpers import png_bytes
from trading.models import Instrument
from trading.services import order_place
from trading.tests.helpers import fund, make_btc_usd, match
from wallet import services as wallet_services
from wallet.models import Asset
from wallet.providers.sandbox import SandboxProvider
from wallet.tests.helpers import make_beneficiary

DAY1 = date(2026, 3, 2)
DAY2 = date(2026, 3, 3)
USD = 100  # cents per dollar
BTC = 10**8  # satoshi per bitcoin


def pay_out(withdrawal, operator, *, reference: str) -> None:
    """Approve, send and complete a withdrawal: paid out on this day."""
    note = "Checked and paid out."
    wallet_services.withdrawal_approve(
        withdrawal=withdrawal, operator=operator, note=note
    )
    wallet_services.withdrawal_mark_sent(
        withdrawal=withdrawal, operator=operator, payout_reference=reference, note=note
    )
    wallet_services.withdrawal_complete(
        withdrawal=withdrawal, operator=operator, note=note
    )


@contextmanager
def at(day: date, hour: int, minute: int = 0) -> Iterator[None]:
    """Run the block with the clock stopped at `day` `hour:minute` UTC."""
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        yield


def kyc_submit(user: User) -> KycCase:
    kyc_services.kyc_profile_update(
        user=user,
        legal_name=user.full_name,
        date_of_birth=date(1990, 1, 15),
        country="IN",
        address_line1="1 Test Street",
        city="Mumbai",
        postal_code="400001",
        id_type="pan",
        id_number=f"ABCDE{user.pk % 10000:04d}F",
    )
    for doc_type in ("pan_card", "proof_of_address", "selfie"):
        kyc_services.kyc_document_upload(
            user=user,
            doc_type=doc_type,
            uploaded=SimpleUploadedFile(f"{doc_type}.png", png_bytes()),
        )
    return kyc_services.kyc_submit(user=user)


def kyc_claim_and_accept_documents(case: KycCase, reviewer: User) -> None:
    kyc_services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    for document in case.documents.all():
        kyc_services.kyc_document_decide(
            case_id=case.pk, document_id=document.pk, reviewer=reviewer, accept=True
        )


def credit(deposit) -> None:
    """The provider reports the deposit paid (the signed sandbox webhook)."""
    headers, body = SandboxProvider().build_webhook(
        deposit=deposit, outcome="succeeded"
    )
    wallet_services.deposit_webhook_process(
        provider="sandbox", headers=headers, body=body
    )


@dataclass
class Activity:
    instrument: Instrument
    usd: Asset
    btc: Asset
    reviewer: User
    operator: User
    seller: User
    buyer: User


@pytest.fixture
def activity(db) -> Activity:
    with at(DAY1, 8):
        reviewer = make_user(
            email="reviewer@example.com", roles=(Role.KYC_REVIEWER,), is_staff=True
        )
        operator = make_user(
            email="operator@example.com", roles=(Role.OPERATOR,), is_staff=True
        )
        seller = make_user(email="seller@example.com", full_name="Sam Seller")
        buyer = make_user(email="buyer@example.com", full_name="Bea Buyer")
        carol = make_user(email="carol@example.com", full_name="Carol Case")
        instrument = make_btc_usd()
        usd, btc = instrument.quote, instrument.base
        cases = {user: kyc_submit(user) for user in (seller, buyer, carol)}
    for user, hour in ((seller, 9), (buyer, 11)):
        with at(DAY1, hour):
            kyc_claim_and_accept_documents(cases[user], reviewer)
            kyc_services.kyc_case_approve(case_id=cases[user].pk, reviewer=reviewer)
    with at(DAY1, 12):
        kyc_services.kyc_case_claim(case_id=cases[carol].pk, reviewer=reviewer)
        kyc_services.kyc_case_reject(
            case_id=cases[carol].pk,
            reviewer=reviewer,
            reason_codes=["documents_invalid"],
        )
    with at(DAY1, 13):
        fund(seller, btc, 2 * BTC)
        fund(buyer, usd, 200_000 * USD)
        credit(
            wallet_services.deposit_create(user=buyer, asset=usd, amount=5_000 * USD)
        )
    with at(DAY1, 14):
        order_place(
            user=seller, symbol="BTC-USD", side="sell", price="95000", quantity="0.5"
        )
        match(instrument)
        order_place(
            user=buyer, symbol="BTC-USD", side="buy", price="96000", quantity="0.3"
        )
        match(instrument)
    with at(DAY1, 15):
        withdrawal = wallet_services.withdrawal_request(
            user=buyer,
            asset=usd,
            amount=1_000 * USD,
            beneficiary=make_beneficiary(buyer),
        )
        pay_out(withdrawal, operator, reference="USD-PAYOUT-1")
    with at(DAY1, 16):
        btc_withdrawal = wallet_services.withdrawal_request(
            user=seller,
            asset=btc,
            amount=BTC // 10,
            beneficiary=make_beneficiary(seller, "bitcoin"),
        )
    with at(DAY1, 23):
        late_deposit = wallet_services.deposit_create(
            user=buyer, asset=usd, amount=250 * USD
        )
    with at(DAY2, 0, 30):
        credit(late_deposit)
    with at(DAY2, 10):
        dave = make_user(email="dave@example.com", full_name="Dave Doc")
        dave_case = kyc_submit(dave)
    with at(DAY2, 10, 30):
        kyc_services.kyc_case_claim(case_id=dave_case.pk, reviewer=reviewer)
        kyc_services.kyc_case_request_resubmission(
            case_id=dave_case.pk, reviewer=reviewer, document_types=["selfie"]
        )
    with at(DAY2, 11):
        order_place(
            user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="0.2"
        )
        match(instrument)
    with at(DAY2, 12):
        pay_out(btc_withdrawal, operator, reference="BTC-PAYOUT-1")
    return Activity(
        instrument=instrument,
        usd=usd,
        btc=btc,
        reviewer=reviewer,
        operator=operator,
        seller=seller,
        buyer=buyer,
    )
