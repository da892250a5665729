"""The role matrix: every admin URL of every registered model, requested as each
role, with the status the role should get.

Roles come from `accounts.roles.Role` (a new role joins automatically) and what
each may do from ROLE_PERMISSIONS (matched here with the same wildcards, not read
back from the groups): a trader (not staff) is sent to the login page; a member of
staff sees a model's pages only with its view or change permission, and gets the
add, change and delete forms only where the role has that permission *and* the
admin allows it at all (a read-only admin refuses even a superuser). One set of
users and one row per model (config.tests.admin_data), all in one test, so the
whole matrix is a few hundred requests.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from accounts.roles import ROLE_PERMISSIONS, Role
from accounts.testing import admin_client_for, make_user
from config.tests.admin_data import first_row, missing_models, one_of_each

pytestmark = pytest.mark.django_db

ROLES = tuple(Role)
PAGES = ("changelist", "add", "change", "delete", "history")

# Admins that go by another model's permissions: the user page (a proxy of the
# user, read-only) opens with the user's view permission (`accounts.view_user`).
PERMISSIONS_OF: dict[str, str] = {"backoffice.UserOverview": "accounts.User"}


def _perm(model, action: str) -> str:
    """The permission the admin of `model` checks for `action`."""
    label = PERMISSIONS_OF.get(model._meta.label, model._meta.label)
    app_label, model_name = label.split(".")
    return f"{app_label}.{action}_{model_name.lower()}"


def _role_permissions() -> dict[Role, set[str]]:
    """`app_label.codename` of every permission each role's patterns match."""
    every = [
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    ]
    return {
        role: {
            name
            for name in every
            if any(fnmatchcase(name, pattern) for pattern in ROLE_PERMISSIONS[role])
        }
        for role in ROLES
    }


def _structural(model_admin, superuser: User) -> dict[str, bool]:
    """What the admin allows at all: its answers for a superuser."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return {
        "view": model_admin.has_view_permission(request),
        "add": model_admin.has_add_permission(request),
        "change": model_admin.has_change_permission(request),
        "delete": model_admin.has_delete_permission(request),
    }


def _urls(model, obj) -> dict[str, str]:
    opts = model._meta
    name = f"admin:{opts.app_label}_{opts.model_name}"
    return {
        "changelist": reverse(f"{name}_changelist"),
        "add": reverse(f"{name}_add"),
        "change": reverse(f"{name}_change", args=[obj.pk]),
        "delete": reverse(f"{name}_delete", args=[obj.pk]),
        "history": reverse(f"{name}_history", args=[obj.pk]),
    }


def _expected(role: Role, perms: set[str], model, allows: dict) -> dict[str, int]:
    """The status of each page for this role: 302 to login for a non-staff trader,
    200 where the role has the permission and the admin allows it, 403 else."""
    if role == Role.TRADER:
        return dict.fromkeys(PAGES, 302)

    def has(action: str) -> bool:
        return _perm(model, action) in perms

    sees = allows["view"] and (has("view") or has("change"))
    return {
        "changelist": 200 if sees else 403,
        "change": 200 if sees else 403,
        "history": 200 if sees else 403,
        "add": 200 if allows["add"] and has("add") else 403,
        "delete": 200 if allows["delete"] and has("delete") else 403,
    }


@pytest.fixture
def matrix():
    """One row of every model, a superuser, and one member of each role with a
    verified second factor (traders are not staff)."""
    one_of_each()
    assert missing_models() == [], "add a row of these to config.tests.admin_data"
    superuser = User.objects.create_superuser(
        email="root@example.com", password="root-pass-123456"
    )
    clients = {
        role: admin_client_for(
            make_user(
                email=f"matrix-{role.value}@example.com",
                roles=(role,),
                is_staff=role != Role.TRADER,
            )
        )
        for role in ROLES
    }
    return superuser, clients


def test_every_admin_url_answers_each_role_as_its_permissions_say(matrix):
    superuser, clients = matrix
    perms = _role_permissions()
    wrong = []
    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        obj = first_row(model)
        urls = _urls(model, obj)
        allows = _structural(model_admin, superuser)
        for role in ROLES:
            client = clients[role]
            expected = _expected(role, perms[role], model, allows)
            responses = {}
            for page, url in urls.items():
                response = responses[page] = client.get(url)
                got = response.status_code
                if got != expected[page]:
                    wrong.append(
                        f"{role.value} GET {url}: {got}, expected {expected[page]}"
                    )
                elif got == 302 and not response["Location"].startswith(
                    reverse("admin:login")
                ):
                    wrong.append(
                        f"{role.value} GET {url}: redirect to {response['Location']}"
                    )
            if role == Role.TRADER:
                continue
            can_change = allows["change"] and _perm(model, "change") in perms[role]
            if expected["change"] == 200:
                # A page the role may only look at has no save button.
                page = responses["change"].content.decode()
                if ('name="_save"' in page) != can_change:
                    wrong.append(
                        f"{role.value} {urls['change']}: save button "
                        f"{'shown' if not can_change else 'missing'}"
                    )
            if not can_change:
                # Posting the form anyway is refused, and nothing changes.
                got = client.post(urls["change"], {"_save": "Save"}).status_code
                if got != 403:
                    wrong.append(
                        f"{role.value} POST {urls['change']}: {got}, expected 403"
                    )
    assert wrong == [], "\n".join(wrong)


def test_explicit_expectations(matrix):
    """A handful pinned by hand, whatever the tables above say."""
    _, clients = matrix
    reviewer, support = clients[Role.KYC_REVIEWER], clients[Role.SUPPORT]
    trader, operator = clients[Role.TRADER], clients[Role.OPERATOR]
    # A reviewer sees the KYC queue and nothing of wallets or trading.
    assert reviewer.get("/admin/kyc/kyccase/").status_code == 200
    for app in ("wallet", "trading"):
        for model, _ in admin.site._registry.items():
            if model._meta.app_label == app:
                url = reverse(f"admin:{app}_{model._meta.model_name}_changelist")
                assert reviewer.get(url).status_code == 403, url
    # Support reads users, wallets and orders but changes nothing.
    assert support.get("/admin/wallet/withdrawal/").status_code == 200
    assert support.get("/admin/trading/order/").status_code == 200
    for model, _ in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        assert support.get(url).status_code == 403, url
    alice = User.objects.get(email="alice@example.com")
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    data = {"full_name": "Changed by support", "reason": "asked by phone"}
    assert support.post(url, data).status_code == 403
    assert User.objects.filter(full_name="Changed by support").count() == 0
    # An operator runs instruments and assets, not users' groups.
    assert operator.get("/admin/trading/instrument/add/").status_code == 200
    assert operator.get("/admin/wallet/asset/add/").status_code == 200
    assert operator.get("/admin/auth/group/").status_code == 403
    # A trader is not staff: the back office sends them to its login page.
    response = trader.get("/admin/wallet/asset/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_operator_cannot_open_a_users_password_page(matrix):
    # Staff never set a user's password (a takeover path): the page is gone (404)
    # or refused (403), and no redirect lands on a password form.
    _, clients = matrix
    alice = User.objects.get(email="alice@example.com")
    url = f"/admin/accounts/user/{alice.pk}/password/"
    operator = clients[Role.OPERATOR]
    assert operator.get(url).status_code in (403, 404)
    assert operator.post(url, {"password1": "x", "password2": "x"}).status_code in (
        403,
        404,
    )
    followed = operator.get(url, follow=True).content.decode()
    assert 'name="password1"' not in followed
