"""Real row locks: two reviewers claiming at once, a user submitting twice at once."""

import threading

import pytest
from django.db import connection

from accounts.testing import make_user
from config.errors import ApplicationError
from kyc import services
from kyc.models import KycCase, KycStatus, KycStatusEvent
from kyc.tests.helpers import (
    TODAY,
    fill_profile,
    make_reviewer,
    submitted_case,
    upload_required,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(functions):
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait()
            results[index] = function()
        except ApplicationError as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_reviewers_claiming_at_once_only_one_wins():
    case = submitted_case()
    reviewers = [make_reviewer() for _ in range(4)]
    results = _race(
        [
            (lambda r=r: services.kyc_case_claim(case_id=case.pk, reviewer=r))
            for r in reviewers
        ]
    )
    winners = [r for r in results if isinstance(r, KycCase)]
    losers = [r for r in results if isinstance(r, ApplicationError)]
    assert len(winners) == 1
    assert {exc.code for exc in losers} == {"already_claimed"}
    case.refresh_from_db()
    assert case.status == KycStatus.IN_REVIEW
    assert KycStatusEvent.objects.filter(case=case, action="claimed").count() == 1


def test_double_submit_opens_one_case():
    user = make_user()
    fill_profile(user)
    upload_required(user)
    results = _race(
        [lambda: services.kyc_submit(user=user, today=TODAY) for _ in range(3)]
    )
    assert sum(isinstance(r, KycCase) for r in results) == 1
    assert KycCase.objects.filter(profile__user=user).count() == 1
