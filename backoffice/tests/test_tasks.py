"""The beat's task: explicit name, acks late, a time limit, one run per period."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.conf import settings
from django.test import override_settings

from backoffice import tasks
from backoffice.models import LedgerVerification

pytestmark = pytest.mark.django_db


def test_the_beat_runs_the_verification_every_configured_period():
    entry = settings.CELERY_BEAT_SCHEDULE["backoffice-ledger-verify"]
    assert entry == {
        "task": "backoffice.ledger_verify",
        "schedule": settings.BACKOFFICE_LEDGER_VERIFY_MINUTES * 60.0,
    }
    assert tasks.ledger_verify.name == "backoffice.ledger_verify"
    assert tasks.ledger_verify.acks_late is True
    assert tasks.ledger_verify.soft_time_limit < tasks.ledger_verify.time_limit


@override_settings(BACKOFFICE_LEDGER_VERIFY_MINUTES=15)
def test_the_beat_task_records_one_run_per_period_however_often_delivered():
    at = datetime(2026, 12, 7, 3, 16, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=at):
        # when: the message is delivered twice in one period
        first = tasks.ledger_verify.delay().get()
        second = tasks.ledger_verify.delay().get()

    # then
    assert first == second
    row = LedgerVerification.objects.get()
    assert row.run_key == "beat:2026-12-07T03:15:00+00:00"
    assert (row.trigger, row.ok, row.finished_at) == ("beat", True, at)
