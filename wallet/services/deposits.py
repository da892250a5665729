"""Deposits through a payment provider: create -> checkout -> signed webhook ->
credit exactly once (external -> user available); later, maybe, a refund or a
lost dispute reverses it.

Every verified webhook event is stored once (`ProviderEvent`, unique per
provider and event id) in the transaction that acts on it, so any number of
deliveries, in any order, act once. An event naming a payment the wallet has
not credited yet (a refund delivered before the payment's success) waits and is
applied when the credit lands."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.guards import email_verified_require
from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Forbidden, NotFound, Unprocessable
from config.transitions import transition
from kyc.selectors import kyc_is_verified
from wallet.errors import WalletErrorCode as Code
from wallet.events import DepositCredited
from wallet.ledger import Posting, account_ensure, accounts_lock, ledger_post
from wallet.models import (
    Account,
    Asset,
    Deposit,
    DepositReversal,
    DepositStatusChange,
    Journal,
    ProviderEvent,
)
from wallet.money import format_units, to_units
from wallet.providers import EventKind, WebhookEvent, provider_choose, provider_get

Outcome = ProviderEvent.Outcome


@transaction.atomic
def deposit_create(
    *,
    user: User,
    asset: Asset,
    amount: int,
    provider: str | None = None,
    meta: RequestMeta | None = None,
) -> Deposit:
    """Open a deposit and ask the provider for a payment; the user pays at
    `deposit.checkout_url`, the provider then calls our webhook.

    `provider`: one of the enabled providers (None: the default); anything else
    is a 400 `unknown_provider` on that field. 403 `kyc_required` unless the
    user's KYC is approved (WALLET_DEPOSITS_NEED_KYC, on by default)."""
    email_verified_require(user=user)
    gateway = provider_choose(provider)
    if settings.WALLET_DEPOSITS_NEED_KYC and not kyc_is_verified(user=user):
        raise Forbidden(Code.KYC_REQUIRED, "Deposits need a verified identity (KYC).")
    deposit = Deposit.objects.create(
        user=user, asset=asset, amount=amount, provider=gateway.name
    )
    intent = gateway.create_payment(deposit=deposit)
    deposit.provider_reference = intent.reference
    deposit.checkout_url = intent.checkout_url
    deposit.save(update_fields=["provider_reference", "checkout_url"])
    DepositStatusChange.objects.create(
        deposit=deposit, new_status=deposit.status, acting_user=user
    )
    audit_event_record(
        code=AuditCode.DEPOSIT_CREATED,
        user=user,
        acting_user=user,
        target=deposit,
        meta=meta,
        extra={
            "asset": asset.code,
            "amount": format_units(amount, asset.decimals),
            "provider": gateway.name,
        },
    )
    return deposit


def deposit_webhook_process(
    *, provider: str, headers: Mapping[str, str], body: bytes
) -> ProviderEvent:
    """Handle a provider webhook: verify it with the provider's own check, store
    it once, act on it once. Safe to receive any number of times, in any order,
    concurrently. Returns the stored event (with its outcome and deposit)."""
    gateway = provider_get(provider)
    event = gateway.verify_webhook(headers=headers, body=body)
    try:
        with transaction.atomic():
            record = ProviderEvent.objects.create(
                provider=gateway.name,
                event_id=event.event_id,
                kind=event.kind.value,
                reference=event.reference,
                currency=event.currency,
                outcome=Outcome.IGNORED,
                payload=dict(event.payload),
            )
            _apply(record, event)
            return record
    except IntegrityError:
        # delivered before (or right now, by a concurrent delivery that won)
        existing = ProviderEvent.objects.filter(
            provider=gateway.name, event_id=event.event_id
        ).first()
        if existing is None:
            raise
        return existing


def _apply(record: ProviderEvent, event: WebhookEvent) -> None:
    deposit = _deposit_locked(record.provider, event)
    record.deposit = deposit
    if event.kind in (EventKind.OTHER, EventKind.PAYMENT_PENDING):
        _settle(record, Outcome.IGNORED, "nothing final for the wallet")
    elif deposit is None:
        if event.kind in (EventKind.REFUND, EventKind.DISPUTE_LOST):
            # the payment's own event has not arrived yet: wait for it
            _settle(record, Outcome.DEFERRED, "waiting for the payment's success")
        else:
            raise NotFound(
                Code.UNKNOWN_PAYMENT, f"reference: no deposit for {event.reference!r}."
            )
    elif event.kind is EventKind.PAYMENT_SUCCEEDED:
        _credit(deposit, record, event)
    elif event.kind is EventKind.PAYMENT_FAILED:
        _fail(deposit, record, event)
    elif deposit.status == Deposit.Status.CREDITED:
        _reverse(deposit, record, event)
    elif deposit.status == Deposit.Status.PENDING:
        _settle(record, Outcome.DEFERRED, "waiting for the payment's success")
    else:
        _settle(record, Outcome.IGNORED, f"the deposit is {deposit.status}")


def _settle(record: ProviderEvent, outcome: str, note: str = "") -> None:
    record.outcome = outcome
    record.note = note[:255]
    record.applied_at = timezone.now() if outcome == Outcome.APPLIED else None
    record.save(update_fields=["outcome", "note", "applied_at", "deposit", "amount"])


def _deposit_locked(provider: str, event: WebhookEvent) -> Deposit | None:
    """The deposit the event is about, locked: payments name our provider
    reference, refunds and disputes the payment id."""
    if not event.reference:
        return None
    by = (
        Q(provider_reference=event.reference)
        if event.kind in (EventKind.PAYMENT_SUCCEEDED, EventKind.PAYMENT_FAILED)
        else Q(payment_id=event.reference)
    )
    return (
        Deposit.objects.select_for_update()
        .select_related("asset", "user")
        .filter(by, provider=provider)
        .first()
    )


def _units(deposit: Deposit, event: WebhookEvent) -> int:
    """The event's amount in the deposit's asset units; a currency that is not
    the deposit's asset is refused (422 `amount_mismatch`)."""
    asset = deposit.asset
    if event.currency != asset.code or event.amount is None:
        raise Unprocessable(
            Code.AMOUNT_MISMATCH,
            f"currency: the provider reports {event.currency or 'no currency'}, "
            f"the deposit is in {asset.code}.",
        )
    return to_units(event.amount, decimals=asset.decimals, field="amount")


def _credit(deposit: Deposit, record: ProviderEvent, event: WebhookEvent) -> None:
    """Credit what the provider confirms (in the deposit's currency), settling
    first what the user owes in that asset; then apply the events that waited
    for this payment."""
    if deposit.status != Deposit.Status.PENDING:
        _settle(record, Outcome.IGNORED, f"the deposit is already {deposit.status}")
        return
    amount = _units(deposit, event)
    record.amount = amount
    asset, user = deposit.asset, deposit.user
    available = account_ensure(owner=user, asset=asset, kind=Account.Kind.AVAILABLE)
    owed_account = Account.objects.filter(
        owner=user, asset=asset, kind=Account.Kind.RECEIVABLE, balance__lt=0
    ).first()
    repaid = 0
    postings = [
        Posting(account_ensure(asset=asset, kind=Account.Kind.EXTERNAL), -amount)
    ]
    if owed_account is not None:
        owed_account = accounts_lock([owed_account.pk])[owed_account.pk]
        repaid = min(amount, -owed_account.balance)
        postings.append(Posting(owed_account, repaid))
    if amount - repaid:
        postings.append(Posting(available, amount - repaid))
    journal = ledger_post(
        kind=Journal.Kind.DEPOSIT,
        reference=f"{deposit.provider}:{deposit.provider_reference}",
        postings=postings,
        metadata={
            "deposit": deposit.pk,
            "provider": deposit.provider,
            **({"receivable_repaid": repaid} if repaid else {}),
        },
    )
    if event.payment_id:
        deposit.payment_id = event.payment_id
    old = transition(
        obj=deposit,
        to=Deposit.Status.CREDITED,
        history=DepositStatusChange,
        fields={
            "journal": journal,
            "credited_amount": amount,
            "payment_id": deposit.payment_id,
        },
        history_fields={"note": f"{deposit.provider} event {event.event_id}"},
        event=DepositCredited.of,
    )
    audit_event_record(
        code=AuditCode.DEPOSIT_CREDITED,
        user=user,
        target=deposit,
        extra={
            "old": old,
            "new": deposit.status,
            "event": event.event_id,
            "amount": format_units(amount, asset.decimals),
            **({"requested": format_units(deposit.amount, asset.decimals)}
               if amount != deposit.amount else {}),
            **({"receivable_repaid": format_units(repaid, asset.decimals)}
               if repaid else {}),
        },
    )  # fmt: skip
    _settle(record, Outcome.APPLIED)
    _apply_waiting(deposit)


def _apply_waiting(deposit: Deposit) -> None:
    """Refunds and disputes that arrived before the payment's success, oldest
    first (each one's amount was stated by the provider)."""
    waiting = ProviderEvent.objects.select_for_update().filter(
        provider=deposit.provider,
        outcome=Outcome.DEFERRED,
        reference__in=[deposit.payment_id, deposit.provider_reference],
    )
    for record in waiting.order_by("received_at", "pk"):
        event = _stored_event(record)
        record.deposit = deposit
        _reverse(deposit, record, event)


def _stored_event(record: ProviderEvent) -> WebhookEvent:
    """The stored event, read again by its provider's class (it was verified
    when it arrived)."""
    gateway = provider_get(record.provider)
    return gateway.event_from_payload(event_id=record.event_id, payload=record.payload)


def _fail(deposit: Deposit, record: ProviderEvent, event: WebhookEvent) -> None:
    if deposit.status != Deposit.Status.PENDING:
        _settle(record, Outcome.IGNORED, f"the deposit is already {deposit.status}")
        return
    old = transition(
        obj=deposit,
        to=Deposit.Status.FAILED,
        history=DepositStatusChange,
        history_fields={"note": f"{deposit.provider} event {event.event_id}"},
        event=DepositCredited.of,
    )
    audit_event_record(
        code=AuditCode.DEPOSIT_FAILED,
        user=deposit.user,
        target=deposit,
        extra={"old": old, "new": deposit.status, "event": event.event_id},
    )
    _settle(record, Outcome.APPLIED)


def _reverse(deposit: Deposit, record: ProviderEvent, event: WebhookEvent) -> None:
    """A refund or a lost dispute: the money goes back to the payer. What the
    user still has available covers it; the rest (already spent or traded) goes
    to the user's receivable account, which restricts the account until repaid.
    A user's balance never goes below zero."""
    if DepositReversal.objects.filter(
        deposit=deposit, provider_id=event.reversal_id
    ).exists():
        # Stripe sends refund.created and refund.updated for one refund
        _settle(record, Outcome.IGNORED, f"{event.reversal_id} already reversed")
        return
    amount = _units(deposit, event)
    record.amount = amount
    left = (deposit.credited_amount or 0) - deposit.reversed_amount
    if amount <= 0 or amount > left:
        raise Unprocessable(
            Code.AMOUNT_MISMATCH,
            f"amount: the provider reverses {event.amount} {event.currency}, "
            f"{format_units(left, deposit.asset.decimals)} of the deposit is left.",
        )
    asset, user = deposit.asset, deposit.user
    available = account_ensure(owner=user, asset=asset, kind=Account.Kind.AVAILABLE)
    receivable = account_ensure(owner=user, asset=asset, kind=Account.Kind.RECEIVABLE)
    locked = accounts_lock([available.pk, receivable.pk])
    covered = min(amount, locked[available.pk].balance)
    shortfall = amount - covered
    kind = (
        DepositReversal.Kind.REFUND
        if event.kind is EventKind.REFUND
        else DepositReversal.Kind.DISPUTE
    )
    postings = [
        Posting(account_ensure(asset=asset, kind=Account.Kind.EXTERNAL), amount)
    ]
    if covered:
        postings.append(Posting(locked[available.pk], -covered))
    if shortfall:
        postings.append(Posting(locked[receivable.pk], -shortfall))
    journal = ledger_post(
        kind=Journal.Kind.DEPOSIT,
        reference=f"{deposit.provider}:{kind}:{event.reversal_id}",
        postings=postings,
        metadata={
            "deposit": deposit.pk,
            "provider": deposit.provider,
            "reversal": kind,
            "covered": covered,
            "shortfall": shortfall,
        },
    )
    DepositReversal.objects.create(
        deposit=deposit,
        kind=kind,
        provider_id=event.reversal_id,
        amount=amount,
        covered=covered,
        shortfall=shortfall,
        journal=journal,
    )
    deposit.reversed_amount += amount
    deposit.updated_at = timezone.now()
    deposit.save(update_fields=["reversed_amount", "updated_at"])
    audit_event_record(
        code=AuditCode.DEPOSIT_REVERSED,
        user=user,
        target=deposit,
        extra={
            "kind": kind,
            "provider_id": event.reversal_id,
            "event": event.event_id,
            "amount": format_units(amount, asset.decimals),
            "covered": format_units(covered, asset.decimals),
            "shortfall": format_units(shortfall, asset.decimals),
        },
    )
    _settle(record, Outcome.APPLIED)


@transaction.atomic
def sandbox_checkout_complete(*, deposit: Deposit, user: User, outcome: str) -> None:
    """The user pressed Pay or Fail on the sandbox checkout page: the sandbox
    "provider" sends its signed webhook after this commits."""
    from wallet import tasks

    if deposit.user_id != user.pk:
        raise NotFound(Code.UNKNOWN_PAYMENT, "No such payment.")
    if deposit.provider != "sandbox":
        raise NotFound(Code.UNKNOWN_PAYMENT, "Not a sandbox payment.")
    if outcome not in ("succeeded", "failed"):
        raise ApplicationError(Code.INVALID_WEBHOOK, "outcome: succeeded or failed.")
    transaction.on_commit(lambda: tasks.sandbox_webhook_send.delay(deposit.pk, outcome))
