"""Celery entry points of the back office: thin, ids in, one service call, safe to
run twice (a run key already recorded is not run again)."""

from celery import shared_task

from accounts.models import User
from backoffice.models import LedgerVerification
from backoffice.services import ledger_verification_beat_key, ledger_verification_run


@shared_task(
    name="backoffice.ledger_verify",
    acks_late=True,
    soft_time_limit=540,
    time_limit=600,
)
def ledger_verify() -> int:
    """The beat's run (every BACKOFFICE_LEDGER_VERIFY_MINUTES): one per period."""
    return ledger_verification_run(
        run_key=ledger_verification_beat_key(),
        trigger=LedgerVerification.Trigger.BEAT,
    ).pk


@shared_task(
    name="backoffice.ledger_verify_requested",
    acks_late=True,
    soft_time_limit=540,
    time_limit=600,
)
def ledger_verify_requested(run_key: str, requested_by_id: int) -> int:
    """A member of staff's "verify now" (queued by ledger_verification_request)."""
    return ledger_verification_run(
        run_key=run_key,
        trigger=LedgerVerification.Trigger.STAFF,
        requested_by=User.objects.get(pk=requested_by_id),
    ).pk
