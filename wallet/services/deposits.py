"""Deposits through a payment provider: create -> checkout -> signed webhook ->
credit exactly once (external -> user available)."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import transaction

from accounts.guards import email_verified_require
from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Forbidden, NotFound, Unprocessable
from config.transitions import transition
from kyc.selectors import kyc_is_verified
from wallet.errors import WalletErrorCode as Code
from wallet.events import DepositCredited
from wallet.ledger import Posting, account_ensure, ledger_post
from wallet.models import Account, Asset, Deposit, DepositStatusChange, Journal
from wallet.money import format_units, to_units
from wallet.providers import provider_get

DEFAULT_PROVIDER = "sandbox"


@transaction.atomic
def deposit_create(
    *,
    user: User,
    asset: Asset,
    amount: int,
    provider: str = DEFAULT_PROVIDER,
    meta: RequestMeta | None = None,
) -> Deposit:
    """Open a deposit and ask the provider for a payment; the user pays at
    `deposit.checkout_url`, the provider then calls our webhook.

    403 `kyc_required` unless the user's KYC is approved (WALLET_DEPOSITS_NEED_KYC,
    on by default; a sandbox may turn it off)."""
    email_verified_require(user=user)
    if settings.WALLET_DEPOSITS_NEED_KYC and not kyc_is_verified(user=user):
        raise Forbidden(Code.KYC_REQUIRED, "Deposits need a verified identity (KYC).")
    gateway = provider_get(provider)
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
        extra={"asset": asset.code, "amount": format_units(amount, asset.decimals)},
    )
    return deposit


def deposit_webhook_process(
    *, provider: str, headers: Mapping[str, str], body: bytes
) -> Deposit:
    """Handle a provider webhook: verify it, then settle the deposit once.

    Safe to receive any number of times, concurrently: the deposit row is locked,
    a settled deposit is returned unchanged, and the credit journal's reference is
    the provider's reference (a second credit cannot exist)."""
    gateway = provider_get(provider)
    event = gateway.verify_webhook(headers=headers, body=body)
    outcome = gateway.map_status(event.status)
    with transaction.atomic():
        deposit = (
            Deposit.objects.select_for_update()
            .select_related("asset", "user")
            .filter(provider=gateway.name, provider_reference=event.reference)
            .first()
        )
        if deposit is None:
            raise NotFound(
                Code.UNKNOWN_PAYMENT, f"reference: no deposit for {event.reference!r}."
            )
        if (
            deposit.status != Deposit.Status.PENDING
            or outcome == Deposit.Status.PENDING
        ):
            return deposit  # already settled (a retry) or nothing final yet
        asset = deposit.asset
        if (
            event.currency != asset.code
            or to_units(event.amount, decimals=asset.decimals, field="amount")
            != deposit.amount
        ):
            raise Unprocessable(
                Code.AMOUNT_MISMATCH,
                f"amount: the provider reports {event.amount} {event.currency}, "
                f"the deposit is {format_units(deposit.amount, asset.decimals)} "
                f"{asset.code}.",
            )
        journal = None
        if outcome == Deposit.Status.CREDITED:
            journal = ledger_post(
                kind=Journal.Kind.DEPOSIT,
                reference=f"{gateway.name}:{event.reference}",
                postings=[
                    Posting(
                        account_ensure(asset=asset, kind=Account.Kind.EXTERNAL),
                        -deposit.amount,
                    ),
                    Posting(
                        account_ensure(
                            owner=deposit.user, asset=asset, kind=Account.Kind.AVAILABLE
                        ),
                        deposit.amount,
                    ),
                ],
                metadata={"deposit": deposit.pk, "provider": gateway.name},
            )
            code = AuditCode.DEPOSIT_CREDITED
        else:
            code = AuditCode.DEPOSIT_FAILED
        old = transition(
            obj=deposit,
            to=outcome,
            history=DepositStatusChange,
            fields={"journal": journal},
            history_fields={"note": f"{gateway.name} event {event.event_id}"},
            event=DepositCredited.of,
        )
        audit_event_record(
            code=code,
            user=deposit.user,
            target=deposit,
            extra={"old": old, "new": deposit.status, "event": event.event_id},
        )
        return deposit


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
