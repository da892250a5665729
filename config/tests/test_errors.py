"""Domain errors know no HTTP; config/errors.py alone gives each kind its status,
and maps an IntegrityError that reached the API by the name of the constraint."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts.models import RoleGrantRequest, User
from accounts.roles import Role
from accounts.testing import make_user
from config import domain_errors
from config.domain_errors import (
    ApplicationError,
    Conflict,
    Forbidden,
    InvariantViolated,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)
from config.errors import (
    HTTP_STATUS_BY_KIND,
    constraint_error,
    constraint_name,
    exception_handler,
    http_status,
)
from wallet.models import Account, Asset

ROOT = Path(settings.BASE_DIR)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (ApplicationError, 400),
        (Unauthenticated, 401),
        (Forbidden, 403),
        (NotFound, 404),
        (Conflict, 409),
        (Unprocessable, 422),
        (RateLimited, 429),
        (InvariantViolated, 500),
        (Unavailable, 503),
    ],
)
def test_each_kind_answers_its_status_with_the_error_body(kind, status):
    error = kind("some_code", "field: what went wrong.", details={"field": ["x"]})

    response = exception_handler(error, {})

    assert response.status_code == status
    assert response.data == {
        "error": {
            "code": "some_code",
            "message": "field: what went wrong.",
            "details": {"field": ["x"]},
        }
    }


def test_every_kind_in_the_domain_module_has_a_status():
    kinds = {
        value
        for value in vars(domain_errors).values()
        if inspect.isclass(value) and issubclass(value, ApplicationError)
    }

    assert kinds == set(HTTP_STATUS_BY_KIND)


def test_a_subclass_answers_as_its_kind():
    class OrderGone(NotFound):
        pass

    assert http_status(OrderGone("order_not_found", "gone.")) == 404


def test_rate_limited_says_when_to_come_back():
    error = RateLimited("login_locked", "wait.", details={"retry_after_seconds": 42})

    response = exception_handler(error, {})

    assert (response.status_code, response.headers["Retry-After"]) == (429, "42")
    assert "Retry-After" not in exception_handler(RateLimited("x", "y."), {}).headers


def test_an_error_knows_no_http_status():
    with pytest.raises(TypeError):
        ApplicationError("order_not_found", "gone.", status_code=404)  # type: ignore[call-arg]


def test_the_domain_module_imports_neither_django_nor_drf():
    # `import config` itself loads Celery's app, which reads django.conf; the
    # module must add no HTTP layer on top.
    code = (
        "import sys, config.domain_errors; "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('rest_framework', 'django.http', 'django.db'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    source = Path(domain_errors.__file__).read_text()

    assert (out.returncode, out.stdout.strip()) == (0, "[]"), out.stderr
    assert not re.search(r"^(from|import) (django|rest_framework)", source, re.M)


def test_services_name_no_http_status():
    modules = [
        *ROOT.glob("*/services.py"),
        *ROOT.glob("*/services/*.py"),
        *ROOT.glob("*/providers/*.py"),
        ROOT / "wallet" / "ledger.py",
    ]
    offenders = [
        str(path.relative_to(ROOT))
        for path in modules
        if re.search(
            r"\brest_framework[.\s]|status_code=|from config\.errors import",
            path.read_text(),
        )
    ]

    assert len(modules) > 20
    assert offenders == []


# --- IntegrityError by constraint name, with the real constraints ---------------


def _broken(write) -> IntegrityError:
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        write()
    return info.value


@pytest.mark.django_db
def test_an_expression_unique_constraint_is_named_and_mapped():
    User.objects.create(email="ann@example.com")

    exc = _broken(lambda: User.objects.create(email="ANN@example.com"))

    assert constraint_name(exc) == "user_email_ci_unique"
    response = exception_handler(exc, {})
    assert response.status_code == 409
    assert response.data["error"] == {
        "code": "email_taken",
        "message": "email: an account with this email already exists.",
        "details": {"constraint": "user_email_ci_unique"},
    }


@pytest.mark.django_db
def test_a_conditional_unique_constraint_on_fields_is_named_and_mapped():
    staff, user = make_user(), make_user()

    def request_role():
        RoleGrantRequest.objects.create(
            user=user, role=Role.OPERATOR, requested_by=staff, reason="on call"
        )

    request_role()
    exc = _broken(request_role)

    assert constraint_name(exc) == "role_grant_one_open_request"
    error = constraint_error(exc)
    assert (type(error), error.code, http_status(error)) == (
        Conflict,
        "role_request_open",
        409,
    )


@pytest.mark.django_db
def test_a_negative_user_balance_is_insufficient_funds():
    asset = Asset.objects.create(code="USD", name="Dollar", decimals=2, kind="fiat")
    account = Account.objects.create(
        owner=make_user(), asset=asset, kind=Account.Kind.AVAILABLE
    )

    exc = _broken(lambda: Account.objects.filter(pk=account.pk).update(balance=-1))

    response = exception_handler(exc, {})
    assert (response.status_code, response.data["error"]["code"]) == (
        422,
        "insufficient_funds",
    )


@pytest.mark.django_db
def test_an_unregistered_constraint_is_a_bug_and_stays_a_500():
    exc = _broken(
        lambda: Asset.objects.create(code="BAD", name="Bad", decimals=19, kind="fiat")
    )

    assert constraint_name(exc) == "asset_decimals_lte_18"
    assert constraint_error(exc) is None
    assert exception_handler(exc, {}) is None  # DRF re-raises: Django's JSON 500


class _RegisterTwice(APIView):
    """A view whose write races a twin: the database's constraint answers."""

    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        User.objects.create(email="Twin@example.com")
        return None


@pytest.mark.django_db
def test_an_integrity_error_leaving_a_view_answers_by_constraint_name():
    User.objects.create(email="twin@example.com")

    response = _RegisterTwice.as_view()(APIRequestFactory().post("/api/v1/x"))

    assert response.status_code == 409
    assert response.data["error"]["code"] == "email_taken"
