"""KYC decisions as domain events (kyc/events.py): `KycDecided` is recorded by the
decision's transition, and notifications' subscriber tells the user (in-app
and by email, through the delivery task after commit)."""

from unittest import mock

import pytest
from django.core import mail

from accounts.testing import make_user
from config import events
from config.tests.recording import recorded
from kyc import services
from kyc.events import KycDecided
from kyc.services.recheck import second_factor_reset_on_kyc_decision
from kyc.tests.helpers import approve, make_reviewer, submitted_case
from notifications.handlers import kyc_decision_notify
from notifications.models import Delivery

pytestmark = pytest.mark.django_db


def _claimed(user=None, **profile):
    case = submitted_case(user or make_user(), **profile)
    reviewer = make_reviewer()
    services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
    return case, reviewer


def test_the_notification_is_written_in_the_deciding_transaction():
    # in the deciding transaction: a second-factor reset's re-check, and the
    # notification (its email is a delivery row, sent after commit)
    assert events.subscribers(KycDecided, events.IN_TRANSACTION) == (
        second_factor_reset_on_kyc_decision,
        kyc_decision_notify,
    )
    assert events.subscribers(KycDecided, events.ON_COMMIT) == ()


def test_each_decision_is_recorded_with_what_the_user_may_read():
    approved_user = make_user()
    approved = submitted_case(approved_user)
    rejected, rita = _claimed()
    resubmit, rob = _claimed()
    reviewer = make_reviewer()
    with recorded(KycDecided) as seen:
        approve(approved, reviewer)
        services.kyc_case_reject(
            case_id=rejected.pk,
            reviewer=rita,
            reason_codes=["underage", "other"],
            user_message="The date of birth does not match.",
            internal_note="not for the user",
        )
        services.kyc_case_request_resubmission(
            case_id=resubmit.pk, reviewer=rob, document_types=["selfie"]
        )
    assert seen == [
        KycDecided(
            approved.pk, approved_user.pk, "onboarding", "approved", reviewer.pk,
            (), (), "",
        ),
        KycDecided(
            rejected.pk,
            rejected.profile.user_id,
            "onboarding",
            "rejected",
            rita.pk,
            ("other", "underage"),
            (),
            "The date of birth does not match.",
        ),
        KycDecided(
            resubmit.pk, resubmit.profile.user_id, "onboarding",
            "resubmission_requested", rob.pk, (), ("selfie",), "",
        ),
    ]  # fmt: skip


def test_claims_releases_and_a_first_approval_are_not_decisions(settings):
    settings.KYC_HIGH_RISK_COUNTRIES = ["IR"]
    case = submitted_case(make_user(), country="IR")
    reviewer = make_reviewer()
    with recorded(KycDecided) as seen:
        services.kyc_case_claim(case_id=case.pk, reviewer=reviewer)
        services.kyc_case_release(case_id=case.pk, reviewer=reviewer)
        approve(case, reviewer)
    case.refresh_from_db()
    assert (case.status, case.first_approved_by) == ("submitted", reviewer)
    assert seen == []


def test_the_email_leaves_only_after_commit(django_capture_on_commit_callbacks):
    case, reviewer = _claimed()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.kyc_case_reject(
            case_id=case.pk, reviewer=reviewer, reason_codes=["underage"]
        )
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Your identity verification was rejected"
    assert mail.outbox[0].to == [case.profile.user.email]


def test_a_mail_outage_leaves_the_email_pending(django_capture_on_commit_callbacks):
    case, reviewer = _claimed()
    with (
        mock.patch(
            "notifications.email.EmailMultiAlternatives.send",
            side_effect=OSError("smtp down"),
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.kyc_case_reject(
            case_id=case.pk, reviewer=reviewer, reason_codes=["underage"]
        )
    case.refresh_from_db()
    assert case.status == "rejected"
    email = Delivery.objects.get(
        user=case.profile.user, channel="email", notification__event_type="kyc_decided"
    )
    assert (email.status, email.attempts) == ("pending", 1)
    assert email.provider_answer == "OSError: smtp down"
