"""The ledger verifications in the admin: read-only, and "verify now" for
operators."""

import pytest
from django.contrib.messages import get_messages
from django.db.models import F

from accounts.models import AuditCode, AuditEvent
from accounts.testing import admin_client_for, make_user
from backoffice.models import LedgerVerification
from backoffice.services import ledger_verification_run
from wallet.models import Account
from wallet.tests.helpers import fund, make_asset

pytestmark = pytest.mark.django_db

LIST = "/admin/backoffice/ledgerverification/"
VERIFY = "/admin/backoffice/ledgerverification/verify/"


@pytest.fixture
def broken(db):
    user = make_user(email="holder@example.com")
    fund(user, make_asset("USD", 2), 10_000)
    Account.objects.filter(owner=user, kind=Account.Kind.AVAILABLE).update(
        balance=F("balance") + 1
    )
    return ledger_verification_run(run_key="beat:x", trigger="beat")


# Transactional: the run is queued on commit, and eager Celery runs it then, so
# the page can tell the result.
@pytest.mark.django_db(transaction=True)
def test_an_operator_verifies_the_ledger_now(operator):
    client = admin_client_for(operator)
    assert 'data-testid="verify-now"' in client.get(LIST).content.decode()

    # when
    response = client.post(VERIFY)

    # then
    assert (response.status_code, response["Location"]) == (302, LIST)
    row = LedgerVerification.objects.get()
    assert (row.trigger, row.requested_by, row.ok) == ("staff", operator, True)
    request = AuditEvent.objects.get(code=AuditCode.ADMIN_OBJECT_CHANGED)
    assert (request.acting_user, request.extra["run_key"]) == (operator, row.run_key)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Ledger verified: {row.check_count} checks ok."
    ]


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_now_says_so(operator, broken):
    response = admin_client_for(operator).post(VERIFY)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Ledger verification failed: 3 problem(s)."
    ]
    assert (
        AuditEvent.objects.filter(code=AuditCode.LEDGER_VERIFICATION_FAILED).count()
        == 2
    )


def test_support_reads_verifications_but_may_not_run_one(support, broken):
    client = admin_client_for(support)
    page = client.get(LIST)
    assert page.status_code == 200
    assert 'data-testid="verify-now"' not in page.content.decode()
    assert client.post(VERIFY).status_code == 403
    assert LedgerVerification.objects.count() == 1
    assert not AuditEvent.objects.filter(code=AuditCode.ADMIN_OBJECT_CHANGED).exists()


def test_a_queued_run_says_so(operator, django_capture_on_commit_callbacks):
    # given: a worker will run it (the commit has not happened yet)
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client_for(operator).post(VERIFY)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Verification queued; its result appears here."
    ]


def test_verify_now_is_a_post(operator):
    assert admin_client_for(operator).get(VERIFY).status_code == 405
    assert not LedgerVerification.objects.exists()


def test_a_reviewer_sees_no_verification(reviewer, broken):
    client = admin_client_for(reviewer)
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}{broken.pk}/change/").status_code == 403
    assert client.post(VERIFY).status_code == 403


def test_a_verification_shows_its_problems_read_only(support, broken):
    client = admin_client_for(support)
    html = client.get(f"{LIST}{broken.pk}/change/").content.decode()
    assert "FAILED" in html
    assert "asset USD: balances sum to 1, not 0" in html
    assert 'name="_save"' not in html
    assert client.get(f"{LIST}add/").status_code == 403
    delete = client.post(f"{LIST}{broken.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert LedgerVerification.objects.filter(pk=broken.pk).exists()
