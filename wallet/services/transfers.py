"""Transfers between users: one journal, sender available -> recipient available."""

from __future__ import annotations

from django.db import transaction

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Forbidden, NotFound
from config.events import record
from kyc.selectors import kyc_is_verified
from wallet.errors import WalletErrorCode as Code
from wallet.events import TransferReceived
from wallet.ledger import Posting, account_ensure, ledger_post
from wallet.models import Account, Asset, Journal, Transfer
from wallet.money import format_units


@transaction.atomic
def transfer_create(
    *,
    sender: User,
    to_email: str,
    asset: Asset,
    amount: int,
    note: str = "",
    meta: RequestMeta | None = None,
) -> Transfer:
    """Move `amount` units from the sender's available balance to the recipient's.
    Both see it in their statements (the journal's metadata names both sides).

    Both sides need an approved KYC: the sender gets 403 `kyc_required`; a
    recipient who is not verified is answered like an unknown one (404
    `unknown_recipient`), so a transfer tells nobody another user's KYC status."""
    if not kyc_is_verified(user=sender):
        raise Forbidden(Code.KYC_REQUIRED, "Transfers need a verified identity (KYC).")
    email = (to_email or "").strip().lower()
    recipient = User.objects.filter(email__iexact=email).first()
    if recipient is None or not kyc_is_verified(user=recipient):
        raise NotFound(
            Code.UNKNOWN_RECIPIENT,
            "to: no verified user with this email.",
            details={"to": ["No verified user with this email."]},
        )
    if recipient.pk == sender.pk:
        raise ApplicationError(
            Code.TRANSFER_TO_SELF,
            "to: you cannot transfer to yourself.",
            details={"to": ["Cannot transfer to yourself."]},
        )
    note = (note or "").strip()
    transfer = Transfer.objects.create(
        sender=sender, recipient=recipient, asset=asset, amount=amount, note=note
    )
    transfer.journal = ledger_post(
        kind=Journal.Kind.TRANSFER,
        reference=str(transfer.pk),
        postings=[
            Posting(
                account_ensure(owner=sender, asset=asset, kind=Account.Kind.AVAILABLE),
                -amount,
            ),
            Posting(
                account_ensure(
                    owner=recipient, asset=asset, kind=Account.Kind.AVAILABLE
                ),
                amount,
            ),
        ],
        metadata={
            "transfer": transfer.pk,
            "from": sender.email,
            "to": recipient.email,
            "note": note,
        },
    )
    transfer.save(update_fields=["journal"])
    audit_event_record(
        code=AuditCode.TRANSFER_SENT,
        user=sender,
        acting_user=sender,
        target=transfer,
        meta=meta,
        extra={
            "to": recipient.email,
            "asset": asset.code,
            "amount": format_units(amount, asset.decimals),
        },
    )
    # the recipient hears of it once this commits (notifications subscribe)
    record(
        TransferReceived(
            transfer_id=transfer.pk,
            user_id=recipient.pk,
            sender_email=sender.email,
            asset=asset.code,
            amount=amount,
            note=note,
        )
    )
    return transfer
