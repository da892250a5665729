"""Ledger verification: the same checks as `manage.py verify_ledger`, recorded."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.db.models import F
from django.test import override_settings

from accounts.models import AuditCode, AuditEvent
from backoffice import services
from backoffice.models import LedgerVerification
from config.errors import Forbidden
from wallet.models import Account
from wallet.tests.helpers import fund, make_asset
from wallet.verification import CHECKS

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(db):
    """A user holding 100.00 USD, deposited through the ledger."""
    from accounts.testing import make_user

    user = make_user(email="holder@example.com")
    usd = make_asset("USD", 2)
    fund(user, usd, 10_000)
    return Account.objects.get(owner=user, asset=usd, kind=Account.Kind.AVAILABLE)


def test_a_clean_ledger_is_recorded_ok_with_every_check(funded):
    # when
    row = services.ledger_verification_run(
        run_key="beat:test", trigger=LedgerVerification.Trigger.BEAT
    )

    # then
    assert row.ok is True
    assert row.result == "ok"
    assert row.check_count == len(CHECKS)
    assert row.problem_count == 0
    assert row.problems == []
    assert row.error == ""
    assert row.started_at <= row.finished_at
    assert row.duration_ms >= 0
    assert not AuditEvent.objects.filter(
        code=AuditCode.LEDGER_VERIFICATION_FAILED
    ).exists()


def test_a_broken_balance_is_recorded_failed_and_audited(funded):
    # given: the cached balance no longer equals the sum of its entries
    Account.objects.filter(pk=funded.pk).update(balance=F("balance") + 1)

    # when
    row = services.ledger_verification_run(
        run_key="beat:broken", trigger=LedgerVerification.Trigger.BEAT
    )

    # then
    label = f"account {funded.pk} (user {funded.owner_id} USD available)"
    assert row.ok is False
    assert row.result == "failed"
    assert row.problems == [
        {
            "check": "balances equal the sum of their entries",
            "problem": f"{label}: balance 10001 != sum of entries 10000",
        },
        {
            "check": "last entry's balance_after equals the balance",
            "problem": f"{label}: balance 10001 != last entry's balance_after 10000",
        },
        {
            "check": "each asset sums to zero over all accounts",
            "problem": "asset USD: balances sum to 1, not 0",
        },
    ]
    assert row.problem_count == 3
    event = AuditEvent.objects.get(code=AuditCode.LEDGER_VERIFICATION_FAILED)
    assert event.acting_user is None
    assert event.user is None
    assert (event.target_type, event.target_id) == (
        "backoffice.ledgerverification",
        str(row.pk),
    )
    assert event.extra == {
        "run_key": "beat:broken",
        "trigger": "beat",
        "requested_by": "",
        "problem_count": 3,
        "checks_failed": [
            "balances equal the sum of their entries",
            "each asset sums to zero over all accounts",
            "last entry's balance_after equals the balance",
        ],
        "error": "",
    }


def test_a_run_key_is_run_and_recorded_once(funded):
    # given: a failed run recorded under its key
    Account.objects.filter(pk=funded.pk).update(balance=F("balance") + 1)
    first = services.ledger_verification_run(
        run_key="beat:once", trigger=LedgerVerification.Trigger.BEAT
    )

    # when: the same key runs again (a re-delivered message), even once repaired
    Account.objects.filter(pk=funded.pk).update(balance=F("balance") - 1)
    with mock.patch("backoffice.services.ledger_verify") as verify:
        again = services.ledger_verification_run(
            run_key="beat:once", trigger=LedgerVerification.Trigger.BEAT
        )

    # then: nothing ran; the first outcome stands, audited once
    verify.assert_not_called()
    assert again.pk == first.pk
    assert LedgerVerification.objects.count() == 1
    assert (
        AuditEvent.objects.filter(code=AuditCode.LEDGER_VERIFICATION_FAILED).count()
        == 1
    )


def test_a_run_that_cannot_finish_is_recorded_as_an_error(funded):
    # given: a check that blows up (a database error, a timeout)
    with mock.patch.dict(
        CHECKS, {"explodes": mock.Mock(side_effect=RuntimeError("connection lost"))}
    ):
        # when
        row = services.ledger_verification_run(
            run_key="beat:error", trigger=LedgerVerification.Trigger.BEAT
        )

    # then
    assert (row.ok, row.result, row.check_count) == (False, "error", 0)
    assert row.error == "RuntimeError: connection lost"
    event = AuditEvent.objects.get(code=AuditCode.LEDGER_VERIFICATION_FAILED)
    assert event.extra["error"] == "RuntimeError: connection lost"


def test_only_the_first_problems_are_kept_but_all_are_counted(funded):
    many = [f"problem {n}" for n in range(LedgerVerification.PROBLEMS_KEPT + 7)]
    with mock.patch.dict(CHECKS, {"many": lambda: many}):
        row = services.ledger_verification_run(
            run_key="beat:many", trigger=LedgerVerification.Trigger.BEAT
        )
    assert row.problem_count == LedgerVerification.PROBLEMS_KEPT + 7
    assert len(row.problems) == LedgerVerification.PROBLEMS_KEPT
    assert row.problems[-1] == {
        "check": "many",
        "problem": f"problem {LedgerVerification.PROBLEMS_KEPT - 1}",
    }


def test_a_recorded_verification_cannot_be_changed(funded):
    row = services.ledger_verification_run(
        run_key="beat:kept", trigger=LedgerVerification.Trigger.BEAT
    )
    row.ok = False
    with pytest.raises(ValueError, match="written once"):
        row.save()
    with pytest.raises(ValueError, match="kept"):
        row.delete()


@override_settings(BACKOFFICE_LEDGER_VERIFY_MINUTES=15)
def test_beat_runs_of_one_period_share_a_key():
    def key(h, m, s=0):
        return services.ledger_verification_beat_key(
            now=datetime(2026, 12, 7, h, m, s, tzinfo=UTC)
        )

    assert key(3, 0) == "beat:2026-12-07T03:00:00+00:00"
    assert key(3, 14, 59) == "beat:2026-12-07T03:00:00+00:00"
    assert key(3, 15) == "beat:2026-12-07T03:15:00+00:00"


def test_verify_now_is_audited_and_runs_after_commit(
    operator, funded, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_key = services.ledger_verification_request(staff=operator)
        assert not LedgerVerification.objects.exists()  # not before the commit

    # then: the request is audited; eager Celery ran it after commit
    request = AuditEvent.objects.get(code=AuditCode.ADMIN_OBJECT_CHANGED)
    assert request.acting_user == operator
    assert request.extra == {
        "model": "backoffice.ledgerverification",
        "action": "verify_now",
        "run_key": run_key,
    }
    assert len(callbacks) == 1
    row = LedgerVerification.objects.get(run_key=run_key)
    assert (row.trigger, row.requested_by, row.ok) == ("staff", operator, True)


def test_verify_now_needs_the_run_permission(support):
    with pytest.raises(Forbidden) as error:
        services.ledger_verification_request(staff=support)
    assert error.value.code == "permission_denied"
    assert not AuditEvent.objects.filter(code=AuditCode.ADMIN_OBJECT_CHANGED).exists()
    assert not LedgerVerification.objects.exists()
