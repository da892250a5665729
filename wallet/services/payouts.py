"""A withdrawal's payout, after approval: `approved -> sent -> completed | failed`.

`sent` records the rail's reference and posts the hold to `external` (journal
`withdrawal:<id>`): the money leaves the books there. `completed` only confirms.
`failed` returns the funds with a new journal `external -> available`
(`withdrawal:<id>:returned`); the sent journal is never edited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta
from config.domain_errors import ApplicationError, Conflict, NotFound
from config.transitions import TransitionTable, transition_check
from wallet.errors import WalletErrorCode as Code
from wallet.ledger import Posting, account_ensure, hold_post, ledger_post
from wallet.models import Account, Asset, Hold, Journal, ProviderEvent, Withdrawal
from wallet.providers.payouts import ManualPayout, payout_provider_get
from wallet.services.approvals import (
    money_approver_check,
    note_clean,
    withdrawal_cooloff_check,
)
from wallet.services.common import require_perm
from wallet.services.withdrawals import (
    APPROVE_PERMISSION,
    lock_withdrawal,
    record_withdrawal_event,
    refuse_own_withdrawal,
    withdrawal_transition,
)


def _payout_reference_clean(text: str, *, asset: Asset, withdrawal_id: int) -> str:
    reference = (text or "").strip()
    field = "payout_reference"
    if not reference or len(reference) > 128:
        problem = "Required: the rail's reference (1 to 128 characters)."
        raise ApplicationError(
            Code.PAYOUT_REFERENCE_REQUIRED,
            f"{field}: {problem}",
            details={field: [problem]},
        )
    taken = (
        Withdrawal.objects.filter(asset=asset, payout_reference=reference)
        .exclude(pk=withdrawal_id)
        .values_list("pk", flat=True)
        .first()
    )
    if taken is not None:
        problem = f"Already recorded on {asset.code} withdrawal #{taken}."
        raise Conflict(
            Code.PAYOUT_REFERENCE_TAKEN,
            f"{field}: {problem}",
            details={field: [problem]},
        )
    return reference


@transaction.atomic
def withdrawal_mark_sent(
    *,
    withdrawal: Withdrawal,
    operator: User,
    payout_reference: str,
    note: str,
    meta: RequestMeta | None = None,
) -> Withdrawal:
    """The payout left on its rail: record its reference and post the hold to
    `external` (journal `withdrawal:<id>`). The money is off the books from here.

    With an automatic payout rail (WALLET_PAYOUT_PROVIDER, e.g. sandbox) and no
    reference typed, the rail is asked to pay and its reference is recorded; a
    typed reference always records a payout made elsewhere (manual)."""
    require_perm(operator, APPROVE_PERMISSION)
    note = note_clean(note)
    withdrawal = lock_withdrawal(withdrawal)
    money_approver_check(approver=operator, user=withdrawal.user)
    withdrawal_cooloff_check(user=withdrawal.user)
    rail = payout_provider_get()
    if rail.automatic and not (payout_reference or "").strip():
        # the rail pays at once: refuse before asking it, not after
        transition_check(
            table=cast(TransitionTable, Withdrawal.TRANSITIONS),
            old=withdrawal.status,
            new=Withdrawal.Status.SENT,
        )
        reference = _payout_reference_clean(
            rail.send(withdrawal=withdrawal),
            asset=withdrawal.asset,
            withdrawal_id=withdrawal.pk,
        )
        if rail.name == "sandbox":
            from wallet import tasks

            transaction.on_commit(
                lambda: tasks.sandbox_payout_webhook_send.delay(reference)
            )
    else:
        rail = ManualPayout()
        reference = _payout_reference_clean(
            payout_reference, asset=withdrawal.asset, withdrawal_id=withdrawal.pk
        )
    old = withdrawal_transition(
        withdrawal,
        to=Withdrawal.Status.SENT,
        actor=operator,
        note=note,
        fields={
            "payout_reference": reference,
            "payout_provider": rail.name,
            "sent_by": operator,
            "sent_at": timezone.now(),
        },
    )
    hold_post(
        hold=cast(Hold, withdrawal.hold),  # created with the withdrawal
        amount=withdrawal.amount,
        postings=[
            Posting(
                account_ensure(asset=withdrawal.asset, kind=Account.Kind.EXTERNAL),
                withdrawal.amount,
            )
        ],
        kind=Journal.Kind.WITHDRAWAL,
        reference=str(withdrawal.pk),
        metadata={
            "withdrawal": withdrawal.pk,
            "destination": withdrawal.destination,
            "payout_reference": reference,
        },
    )
    record_withdrawal_event(
        withdrawal,
        code=AuditCode.WITHDRAWAL_SENT,
        operator=operator,
        old=old,
        meta=meta,
        payout_reference=reference,
        payout_provider=rail.name,
        note=note,
    )
    return withdrawal


@transaction.atomic
def withdrawal_complete(
    *,
    withdrawal: Withdrawal,
    operator: User,
    note: str,
    meta: RequestMeta | None = None,
) -> Withdrawal:
    """The rail confirmed the payout. Nothing to post: it left when sent."""
    require_perm(operator, APPROVE_PERMISSION)
    note = note_clean(note)
    withdrawal = lock_withdrawal(withdrawal)
    refuse_own_withdrawal(withdrawal, operator)
    return _complete(withdrawal, operator=operator, note=note, meta=meta)


def _complete(
    withdrawal: Withdrawal,
    *,
    operator: User | None,
    note: str,
    meta: RequestMeta | None,
) -> Withdrawal:
    """Completed, by an operator or (operator None) by the rail's webhook."""
    old = withdrawal_transition(
        withdrawal,
        to=Withdrawal.Status.COMPLETED,
        actor=operator,
        note=note,
        fields={"settled_at": timezone.now()},
    )
    record_withdrawal_event(
        withdrawal,
        code=AuditCode.WITHDRAWAL_COMPLETED,
        operator=operator,
        old=old,
        meta=meta,
        note=note,
    )
    return withdrawal


@transaction.atomic
def withdrawal_fail(
    *,
    withdrawal: Withdrawal,
    operator: User,
    note: str,
    meta: RequestMeta | None = None,
) -> Withdrawal:
    """The rail returned the payout: give the funds back through the ledger with a
    new journal `external -> available` (`withdrawal:<id>:returned`); the sent
    journal stays as it was. It credits the user, so it follows the approvers'
    rules (not your own, not a user you acted on recently)."""
    require_perm(operator, APPROVE_PERMISSION)
    note = note_clean(note)
    withdrawal = lock_withdrawal(withdrawal)
    money_approver_check(approver=operator, user=withdrawal.user)
    return _fail(withdrawal, operator=operator, note=note, meta=meta)


def _fail(
    withdrawal: Withdrawal,
    *,
    operator: User | None,
    note: str,
    meta: RequestMeta | None,
) -> Withdrawal:
    """Failed, funds returned, by an operator or (operator None) by the rail."""
    old = withdrawal_transition(
        withdrawal,
        to=Withdrawal.Status.FAILED,
        actor=operator,
        note=note,
        fields={
            "settled_at": timezone.now(),
            "reason": "The payout failed; the funds are back in your balance.",
        },
    )
    asset = withdrawal.asset
    ledger_post(
        kind=Journal.Kind.WITHDRAWAL,
        reference=f"{withdrawal.pk}:returned",
        postings=[
            Posting(
                account_ensure(asset=asset, kind=Account.Kind.EXTERNAL),
                -withdrawal.amount,
            ),
            Posting(
                account_ensure(
                    owner=withdrawal.user, asset=asset, kind=Account.Kind.AVAILABLE
                ),
                withdrawal.amount,
            ),
        ],
        metadata={
            "withdrawal": withdrawal.pk,
            "returned": True,
            "payout_reference": withdrawal.payout_reference,
        },
    )
    record_withdrawal_event(
        withdrawal,
        code=AuditCode.WITHDRAWAL_FAILED,
        operator=operator,
        old=old,
        meta=meta,
        note=note,
    )
    return withdrawal


def payout_webhook_process(
    *, provider: str, headers: Mapping[str, str], body: bytes
) -> ProviderEvent:
    """A payout rail's webhook: verified by the rail, stored once per event id
    (like the deposit providers' events), then the sent withdrawal it names is
    completed, or failed with its funds returned. Any number of deliveries act
    once; an event about a withdrawal no longer `sent` changes nothing."""
    rail = payout_provider_get(provider)
    event = rail.verify_webhook(headers=headers, body=body)
    try:
        with transaction.atomic():
            record = ProviderEvent.objects.create(
                provider=f"payout:{rail.name}",
                event_id=event.event_id,
                kind="payout_paid" if event.paid else "payout_failed",
                reference=event.reference,
                outcome=ProviderEvent.Outcome.IGNORED,
            )
            withdrawal = (
                Withdrawal.objects.select_for_update(of=("self",))
                .select_related("asset", "hold", "user")
                .filter(payout_provider=rail.name, payout_reference=event.reference)
                .first()
            )
            if withdrawal is None:
                raise NotFound(
                    Code.UNKNOWN_PAYMENT,
                    f"reference: no payout {event.reference!r} on {rail.name}.",
                )
            if withdrawal.status == Withdrawal.Status.SENT:
                note = f"{rail.name} payout event {event.event_id}"
                if event.paid:
                    _complete(withdrawal, operator=None, note=note, meta=None)
                else:
                    reason = f"{note}: {event.reason}" if event.reason else note
                    _fail(withdrawal, operator=None, note=reason[:500], meta=None)
                record.outcome = ProviderEvent.Outcome.APPLIED
                record.applied_at = timezone.now()
            else:
                record.note = f"the withdrawal is {withdrawal.status}"
            record.save(update_fields=["outcome", "applied_at", "note"])
            return record
    except IntegrityError:
        existing = ProviderEvent.objects.filter(
            provider=f"payout:{rail.name}", event_id=event.event_id
        ).first()
        if existing is None:
            raise
        return existing
