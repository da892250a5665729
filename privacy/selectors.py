"""What closing an account waits for, and the user's data as export sections."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from accounts.api.serializers import SecurityEventOutputSerializer
from accounts.models import ConsentRecord, User
from accounts.selectors import security_event_list
from kyc.models import KycDocument
from kyc.selectors import kyc_profile_get
from trading.api.reading import FillOutputSerializer
from trading.api.serializers import OrderOutputSerializer
from trading.models import Order
from trading.selectors import fill_list, order_list
from wallet.api.serializers import (
    BeneficiaryOutputSerializer,
    DepositOutputSerializer,
    StatementEntryOutputSerializer,
    TransferOutputSerializer,
    WithdrawalOutputSerializer,
)
from wallet.models import Account, Deposit, Withdrawal
from wallet.money import format_units
from wallet.selectors import (
    beneficiary_list,
    deposit_list,
    statement_entries,
    transfer_list,
    withdrawal_list,
)

# Withdrawals still on their way: the money is held or already sent out.
WITHDRAWAL_OPEN_STATUSES = (
    Withdrawal.Status.REQUESTED,
    Withdrawal.Status.FIRST_APPROVED,
    Withdrawal.Status.APPROVED,
    Withdrawal.Status.SENT,
)
_CHUNK = 1000


@dataclass(frozen=True)
class ClosureBlocker:
    code: str
    message: str


def closure_blockers(*, user: User) -> list[ClosureBlocker]:
    """Why this account cannot be closed now: a balance, an open order, a
    withdrawal or deposit still on its way. Empty when it can."""
    blockers = []
    for code, decimals, kind, balance in (
        Account.objects.filter(owner=user)
        .exclude(balance=0)
        .order_by("asset__code", "kind")
        .values_list("asset__code", "asset__decimals", "kind", "balance")
    ):
        blockers.append(
            ClosureBlocker(
                "balance",
                f"{format_units(balance, decimals)} {code} {kind}: withdraw or "
                "transfer it first.",
            )
        )
    orders = Order.objects.filter(user=user, status__in=Order.OPEN_STATUSES).count()
    if orders:
        blockers.append(ClosureBlocker("open_orders", f"{orders} open order(s)."))
    withdrawals = Withdrawal.objects.filter(
        user=user, status__in=WITHDRAWAL_OPEN_STATUSES
    ).count()
    if withdrawals:
        blockers.append(
            ClosureBlocker("withdrawals", f"{withdrawals} withdrawal(s) in progress.")
        )
    deposits = Deposit.objects.filter(user=user, status=Deposit.Status.PENDING).count()
    if deposits:
        blockers.append(
            ClosureBlocker("deposits", f"{deposits} deposit(s) awaiting payment.")
        )
    return blockers


def _rows(queryset, serializer_class, **context) -> Iterator[dict]:
    for row in queryset.iterator(chunk_size=_CHUNK):
        yield serializer_class(row, context=context).data


def _profile(user: User) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "phone": user.phone,
        "status": user.status,
        "date_joined": user.date_joined.isoformat(),
        "terms_version": user.terms_version,
        "privacy_version": user.privacy_version,
    }


def _kyc(user: User) -> dict | None:
    """The identity profile as the user gave it (identifiers masked, as the API
    shows them) and each document's metadata; files are not in the export."""
    profile = kyc_profile_get(user=user)
    if profile is None:
        return None
    documents = KycDocument.objects.filter(profile=profile).order_by("pk")
    return {
        "legal_name": profile.legal_name,
        "date_of_birth": profile.date_of_birth.isoformat()
        if profile.date_of_birth
        else None,
        "country": profile.country,
        "address": ", ".join(
            part
            for part in (
                profile.address_line1,
                profile.address_line2,
                profile.city,
                profile.postal_code,
            )
            if part
        ),
        "id_type": profile.id_type,
        "id_number_masked": profile.id_number_masked,
        "status": profile.status,
        "documents": [
            {
                "id": doc.pk,
                "type": doc.doc_type,
                "status": doc.status,
                "reason_code": doc.reason_code,
                "uploaded_at": doc.created_at.isoformat(),
                "decided_at": doc.decided_at.isoformat() if doc.decided_at else None,
            }
            for doc in documents
        ],
    }


def export_sections(*, user: User) -> Iterable[tuple[str, object]]:
    """The export, section by section; a list section is an iterator read from
    the database in chunks, so a long history never sits in memory whole. Rows
    have the API's shapes (docs of each endpoint)."""
    yield "profile", _profile(user)
    yield (
        "consents",
        (
            {
                "document": c.document,
                "version": c.version,
                "accepted_at": c.created_at.isoformat(),
            }
            for c in ConsentRecord.objects.filter(user=user).order_by("pk")
        ),
    )
    yield "kyc", _kyc(user)
    yield (
        "orders",
        _rows(order_list(user=user).order_by("pk"), OrderOutputSerializer),
    )
    yield "fills", _rows(fill_list(user=user).order_by("pk"), FillOutputSerializer)
    yield (
        "ledger_statement",
        _rows(
            statement_entries(user=user).order_by("pk"),
            StatementEntryOutputSerializer,
            user=user,
        ),
    )
    yield (
        "deposits",
        _rows(deposit_list(user=user).order_by("pk"), DepositOutputSerializer),
    )
    yield (
        "withdrawals",
        _rows(withdrawal_list(user=user).order_by("pk"), WithdrawalOutputSerializer),
    )
    yield (
        "transfers",
        _rows(transfer_list(user=user).order_by("pk"), TransferOutputSerializer),
    )
    yield (
        "beneficiaries",
        _rows(beneficiary_list(user=user).order_by("pk"), BeneficiaryOutputSerializer),
    )
    yield (
        "security_events",
        _rows(
            security_event_list(user=user).order_by("pk"), SecurityEventOutputSerializer
        ),
    )
