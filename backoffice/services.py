"""Every write of the back office: running `verify_ledger`'s checks and recording
what they found."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from backoffice.errors import BackofficeErrorCode as Code
from backoffice.models import LedgerVerification
from backoffice.queries import read_snapshot
from config.domain_errors import Forbidden
from wallet.verification import ledger_verify

logger = logging.getLogger(__name__)

RUN_PERMISSION = "backoffice.run_ledgerverification"


def ledger_verification_beat_key(*, now: datetime | None = None) -> str:
    """The run key of the beat period `now` falls in: periods of
    BACKOFFICE_LEDGER_VERIFY_MINUTES from the epoch, so every run of one period
    (a re-delivered or duplicated message) shares the key."""
    now = now or timezone.now()
    period = int(
        timedelta(minutes=settings.BACKOFFICE_LEDGER_VERIFY_MINUTES).total_seconds()
    )
    start = int(now.timestamp()) // period * period
    return f"beat:{datetime.fromtimestamp(start, tz=UTC).isoformat()}"


def ledger_verification_run(
    *,
    run_key: str,
    trigger: str,
    requested_by: User | None = None,
) -> LedgerVerification:
    """Run every `verify_ledger` check (`wallet.verification.ledger_verify`, which
    includes the checks other apps registered) on one snapshot and record the
    outcome. A failed run, or one that could not finish, also writes the audit
    event LEDGER_VERIFICATION_FAILED. Idempotent: a run key already recorded
    returns its row without running again."""
    existing = LedgerVerification.objects.filter(run_key=run_key).first()
    if existing is not None:
        return existing
    started_at = timezone.now()
    clock = time.monotonic()
    problems: list[dict[str, str]] = []
    check_count = 0
    error = ""
    try:
        with read_snapshot():
            results = ledger_verify()
    except Exception as exc:  # a run that cannot finish is a red result, not silence
        logger.exception("ledger verification %s could not finish", run_key)
        error = f"{type(exc).__name__}: {exc}"[:2000]
    else:
        check_count = len(results)
        problems = [
            {"check": result.name, "problem": problem}
            for result in results
            for problem in result.problems
        ]
    duration_ms = int((time.monotonic() - clock) * 1000)
    finished_at = max(timezone.now(), started_at)
    return _ledger_verification_record(
        run_key=run_key,
        trigger=trigger,
        requested_by=requested_by,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=duration_ms,
        check_count=check_count,
        problems=problems,
        error=error,
    )


def _ledger_verification_record(
    *,
    run_key: str,
    trigger: str,
    requested_by: User | None,
    started_at: datetime,
    finished_at: datetime,
    duration_ms: int,
    check_count: int,
    problems: list[dict[str, str]],
    error: str,
) -> LedgerVerification:
    ok = not problems and not error
    try:
        with transaction.atomic():
            row = LedgerVerification.objects.create(
                run_key=run_key,
                trigger=trigger,
                requested_by=requested_by,
                started_at=started_at,
                finished_at=finished_at,
                duration_ms=duration_ms,
                ok=ok,
                check_count=check_count,
                problem_count=len(problems),
                problems=problems[: LedgerVerification.PROBLEMS_KEPT],
                error=error,
            )
            if not ok:
                audit_event_record(
                    code=AuditCode.LEDGER_VERIFICATION_FAILED,
                    target=row,
                    extra={
                        "run_key": run_key,
                        "trigger": trigger,
                        "requested_by": requested_by.email if requested_by else "",
                        "problem_count": len(problems),
                        "checks_failed": sorted({p["check"] for p in problems}),
                        "error": error,
                    },
                )
    except IntegrityError:
        # A concurrent run of the same key recorded first: its outcome stands.
        existing = LedgerVerification.objects.filter(run_key=run_key).first()
        if existing is None:
            raise
        return existing
    if not ok:
        logger.error(
            "ledger verification %s failed: %d problem(s)%s",
            run_key,
            len(problems),
            f", error {error}" if error else "",
        )
    return row


def ledger_verification_request(*, staff: User, meta: RequestMeta | None = None) -> str:
    """ "Verify now" from the back office: audit the request and queue a run after
    commit (eager mode runs it at once). Returns the run key, which names the
    recorded row once the run ends."""
    if not staff.has_perm(RUN_PERMISSION):
        raise Forbidden(
            Code.PERMISSION_DENIED,
            "You may not run the ledger verification.",
        )
    run_key = f"staff:{uuid.uuid4().hex}"
    with transaction.atomic():
        audit_event_record(
            code=AuditCode.ADMIN_OBJECT_CHANGED,
            acting_user=staff,
            meta=meta,
            extra={
                "model": LedgerVerification._meta.label_lower,
                "action": "verify_now",
                "run_key": run_key,
            },
        )
        from backoffice.tasks import ledger_verify_requested

        transaction.on_commit(
            lambda: ledger_verify_requested.delay(
                run_key=run_key, requested_by_id=staff.pk
            )
        )
    return run_key
