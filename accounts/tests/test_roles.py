"""Power takes two: a back-office role is granted only when a second
administrator approves another's request."""

import pytest
from django.contrib.auth.models import Group

from accounts import services
from accounts.models import (
    AuditCode,
    AuditEvent,
    RoleGrantRequest,
    RoleGrantRequestStatusChange,
    User,
)
from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from config.errors import ApplicationError

pytestmark = pytest.mark.django_db

Status = RoleGrantRequest.Status


@pytest.fixture
def ada():
    return make_user(email="ada@example.com", roles=(Role.ADMINISTRATOR,))


@pytest.fixture
def abe():
    return make_user(email="abe@example.com", roles=(Role.ADMINISTRATOR,))


@pytest.fixture
def trader():
    return make_user(email="tina@example.com")


def request_in_admin(client, *, user, role="operator", reason="new hire, ticket 7"):
    return client.post(
        "/admin/accounts/rolegrantrequest/add/",
        {"user": user.pk, "role": role, "reason": reason},
    )


def roles_of(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_four_eyes_grant_in_the_admin(ada, abe, trader):
    ada_client, abe_client = admin_client_for(ada), admin_client_for(abe)
    # given Ada asks for the operator role for Tina
    response = request_in_admin(ada_client, user=trader)
    grant = RoleGrantRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == (
        f"/admin/accounts/rolegrantrequest/{grant.pk}/change/"
    )
    assert (grant.status, grant.role, grant.requested_by) == (
        Status.REQUESTED,
        "operator",
        ada,
    )
    requested = AuditEvent.objects.get(code=AuditCode.ROLE_GRANT_REQUESTED)
    assert (requested.user, requested.acting_user) == (trader, ada)
    assert requested.extra == {"role": "operator", "reason": "new hire, ticket 7"}
    trader.refresh_from_db()
    assert (roles_of(trader), trader.is_staff) == ({"trader"}, False)

    # when Ada tries to approve her own request, nothing happens
    page = ada_client.get(f"/admin/accounts/rolegrantrequest/{grant.pk}/change/")
    assert b'data-testid="approve"' not in page.content
    response = ada_client.post(
        f"/admin/accounts/rolegrantrequest/{grant.pk}/approve/", follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "You asked for this role: a different administrator must approve it."
    ]
    grant.refresh_from_db()
    assert grant.status == Status.REQUESTED

    # when Abe approves it
    page = abe_client.get(f"/admin/accounts/rolegrantrequest/{grant.pk}/change/")
    assert b'data-testid="approve"' in page.content
    response = abe_client.post(
        f"/admin/accounts/rolegrantrequest/{grant.pk}/approve/", {"note": "ok"}
    )
    # then Tina is an operator and staff, and the trail says who did what
    assert response.status_code == 302
    grant.refresh_from_db()
    assert (grant.status, grant.decided_by, grant.decision_note) == (
        Status.APPROVED,
        abe,
        "ok",
    )
    trader.refresh_from_db()
    assert (roles_of(trader), trader.is_staff, trader.is_superuser) == (
        {"trader", "operator"},
        True,
        False,
    )
    granted = AuditEvent.objects.get(code=AuditCode.ROLE_GRANTED, acting_user=abe)
    assert granted.user == trader
    assert granted.extra == {"role": "operator", "requested_by": ada.pk, "note": "ok"}
    assert list(
        RoleGrantRequestStatusChange.objects.filter(request=grant).values_list(
            "old_status", "new_status", "acting_user"
        )
    ) == [("", "requested", ada.pk), ("requested", "approved", abe.pk)]
    # and a decided request cannot be decided again
    with pytest.raises(ApplicationError) as exc:
        services.role_grant_reject(request_id=grant.pk, approver=abe, note="oops")
    assert exc.value.code == "invalid_transition"


def test_reject_and_cancel(ada, abe, trader):
    first = services.role_grant_request(
        requested_by=ada, user=trader, role=Role.SUPPORT, reason="helpdesk"
    )
    services.role_grant_reject(request_id=first.pk, approver=abe, note="not yet")
    first.refresh_from_db()
    assert (first.status, first.decided_by) == (Status.REJECTED, abe)
    rejected = AuditEvent.objects.get(code=AuditCode.ROLE_GRANT_REJECTED)
    assert (rejected.user, rejected.acting_user) == (trader, abe)
    assert rejected.extra == {"role": "support", "note": "not yet"}

    second = services.role_grant_request(
        requested_by=ada, user=trader, role=Role.SUPPORT, reason="helpdesk, again"
    )
    with pytest.raises(ApplicationError) as exc:
        services.role_grant_cancel(request_id=second.pk, staff=abe)
    assert exc.value.code == "permission_denied"
    services.role_grant_cancel(request_id=second.pk, staff=ada, note="wrong person")
    second.refresh_from_db()
    assert second.status == Status.CANCELLED
    cancelled = AuditEvent.objects.get(code=AuditCode.ADMIN_OBJECT_CHANGED)
    assert cancelled.extra == {
        "model": "accounts.rolegrantrequest",
        "action": "cancelled",
        "role": "support",
        "note": "wrong person",
    }
    assert roles_of(trader) == {"trader"}


def test_nobody_grants_a_role_to_themselves(ada, abe):
    # Ada may not ask for herself ...
    with pytest.raises(ApplicationError) as exc:
        services.role_grant_request(
            requested_by=ada, user=ada, role=Role.OPERATOR, reason="me"
        )
    assert exc.value.code == "not_on_yourself"
    # ... nor approve a request that makes her more powerful
    grant = services.role_grant_request(
        requested_by=abe, user=ada, role=Role.OPERATOR, reason="cover"
    )
    with pytest.raises(ApplicationError) as exc:
        services.role_grant_approve(request_id=grant.pk, approver=ada)
    assert exc.value.code == "not_on_yourself"
    grant.refresh_from_db()
    assert grant.status == Status.REQUESTED
    assert roles_of(ada) == {"administrator"}


def test_the_request_form_names_the_field_it_refuses(ada, trader):
    client = admin_client_for(ada)
    response = request_in_admin(client, user=trader, role="trader")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["role"]
    response = request_in_admin(client, user=ada)
    assert "not used on your own account" in " ".join(
        response.context["adminform"].form.errors["user"]
    )
    services.role_grant_request(
        requested_by=ada, user=trader, role=Role.OPERATOR, reason="first"
    )
    response = request_in_admin(client, user=trader)
    assert response.context["adminform"].form.errors["role"] == [
        "a request for operator for tina@example.com is already waiting."
    ]
    assert RoleGrantRequest.objects.count() == 1


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPPORT, Role.KYC_REVIEWER])
def test_non_administrators_cannot_request_or_decide(role, ada, trader):
    staff = make_user(roles=(role,))
    grant = services.role_grant_request(
        requested_by=ada, user=trader, role=Role.OPERATOR, reason="x"
    )
    client = admin_client_for(staff)
    assert client.get("/admin/accounts/rolegrantrequest/add/").status_code == 403
    assert request_in_admin(client, user=trader, role="support").status_code == 403
    for step in ("approve", "reject", "cancel"):
        url = f"/admin/accounts/rolegrantrequest/{grant.pk}/{step}/"
        assert client.post(url, {"note": "x"}).status_code == 403
    url = f"/admin/accounts/user/{ada.pk}/roles/administrator/revoke/"
    assert client.post(url, {"reason": "x"}).status_code == 403
    grant.refresh_from_db()
    assert grant.status == Status.REQUESTED
    assert roles_of(ada) == {"administrator"}


def test_one_administrator_revokes_and_staff_status_follows(ada, trader):
    services.user_roles_bootstrap(user=trader, roles=[Role.TRADER, Role.SUPPORT])
    trader.refresh_from_db()
    assert trader.is_staff is True
    response = admin_client_for(ada).post(
        f"/admin/accounts/user/{trader.pk}/roles/support/revoke/",
        {"reason": "left the team"},
    )
    assert response.status_code == 302
    trader.refresh_from_db()
    assert (roles_of(trader), trader.is_staff) == ({"trader"}, False)
    event = AuditEvent.objects.get(code=AuditCode.ROLE_REVOKED, acting_user=ada)
    assert (event.user, event.extra) == (
        trader,
        {"role": "support", "reason": "left the team"},
    )


def test_administrator_role_and_its_permissions_exist():
    group = Group.objects.get(name=Role.ADMINISTRATOR)
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {
        "grant_role",
        "reset_second_factor",
        "suspend_user",
        "end_user_sessions",
        "change_user",
        "view_group",
    } <= codenames
    assert not {"approve_withdrawal", "change_group", "add_totpdevice"} & codenames
    operator = set(
        Group.objects.get(name=Role.OPERATOR).permissions.values_list(
            "codename", flat=True
        )
    )
    assert not {"grant_role", "reset_second_factor"} & operator


def test_bootstrap_administrators_only_on_a_fresh_install(trader):
    from io import StringIO

    from django.core.management import CommandError, call_command

    other = make_user(email="olly@example.com")
    out = StringIO()
    call_command("bootstrap_administrators", trader.email, other.email, stdout=out)
    assert out.getvalue().splitlines() == [
        "tina@example.com is an administrator.",
        "olly@example.com is an administrator.",
    ]
    trader.refresh_from_db()
    assert (roles_of(trader), trader.is_staff) == ({"trader", "administrator"}, True)
    event = AuditEvent.objects.get(code=AuditCode.ROLE_GRANTED, user=trader)
    assert (event.acting_user, event.extra) == (
        None,
        {"role": "administrator", "via": "bootstrap"},
    )
    third = make_user(email="third@example.com")
    with pytest.raises(CommandError, match="2 administrators exist already"):
        call_command("bootstrap_administrators", third.email)
    assert roles_of(third) == {"trader"}


def test_waiting_requests_for_an_administrator_leave_out_their_own(ada, abe, trader):
    from accounts.selectors import role_grant_requests_waiting

    first = services.role_grant_request(
        requested_by=ada, user=trader, role=Role.SUPPORT, reason="one"
    )
    second = services.role_grant_request(
        requested_by=abe, user=trader, role=Role.OPERATOR, reason="two"
    )
    for_ada = services.role_grant_request(
        requested_by=abe, user=ada, role=Role.OPERATOR, reason="three"
    )
    services.role_grant_reject(request_id=second.pk, approver=ada, note="no")
    assert list(role_grant_requests_waiting()) == [first, for_ada]
    assert list(role_grant_requests_waiting(for_user=ada)) == []
    assert list(role_grant_requests_waiting(for_user=abe)) == [first]
