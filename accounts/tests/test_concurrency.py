"""Races that only a real database with row locks can show (PostgreSQL)."""

import threading

import pytest
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.testing import PASSWORD, make_user
from accounts.tests.conftest import totp_code

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(count, action):
    """Run `action()` in `count` threads released together; return the results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = action()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_one_totp_code_logs_in_once_under_concurrent_requests():
    user = make_user(email="racer@example.com")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    code = totp_code(device)

    def attempt():
        response = APIClient().post(
            "/api/v1/auth/login",
            {"email": user.email, "password": PASSWORD, "otp": code},
            format="json",
        )
        return response.status_code

    statuses = race(8, attempt)
    assert sorted(statuses) == [200] + [401] * 7


def test_one_refresh_token_rotates_once_under_concurrent_requests():
    user = make_user(email="refresher@example.com")
    tokens = (
        APIClient()
        .post(
            "/api/v1/auth/login",
            {"email": user.email, "password": PASSWORD},
            format="json",
        )
        .json()
    )

    def attempt():
        response = APIClient().post(
            "/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
        )
        return response.status_code

    statuses = race(8, attempt)
    assert sorted(statuses) == [200] + [401] * 7


def test_a_role_grant_request_is_decided_once_under_concurrent_decisions():
    from accounts import services
    from accounts.models import AuditCode, AuditEvent, RoleGrantRequest
    from accounts.roles import Role
    from config.errors import ApplicationError

    ada, abe, cy = (
        make_user(email=f"{name}@example.com", roles=(Role.ADMINISTRATOR,))
        for name in ("ada", "abe", "cy")
    )
    target = make_user(email="new.hire@example.com")
    grant = services.role_grant_request(
        requested_by=ada, user=target, role=Role.OPERATOR, reason="new hire"
    )
    deciders = iter(
        [
            lambda: services.role_grant_approve(request_id=grant.pk, approver=abe),
            lambda: services.role_grant_reject(
                request_id=grant.pk, approver=cy, note="no"
            ),
        ]
        * 3
    )
    lock = threading.Lock()

    def decide():
        with lock:
            action = next(deciders)
        try:
            return action().status
        except ApplicationError as exc:
            return exc.code

    results = race(6, decide)
    grant.refresh_from_db()
    assert results.count("invalid_transition") == 5
    assert grant.status in results
    decided = AuditEvent.objects.filter(
        code__in=[AuditCode.ROLE_GRANTED, AuditCode.ROLE_GRANT_REJECTED],
        target_id=str(grant.pk),
    )
    assert decided.count() == 1
    assert grant.history.count() == 2
    assert RoleGrantRequest.objects.count() == 1


def test_concurrent_requests_for_one_role_make_one_request():
    from accounts import services
    from accounts.models import RoleGrantRequest
    from accounts.roles import Role
    from config.errors import ApplicationError

    admins = [
        make_user(email=f"admin{i}@example.com", roles=(Role.ADMINISTRATOR,))
        for i in range(4)
    ]
    target = make_user(email="new.hire@example.com")
    queue = iter(admins)
    lock = threading.Lock()

    def ask():
        with lock:
            admin = next(queue)
        try:
            services.role_grant_request(
                requested_by=admin, user=target, role=Role.SUPPORT, reason="help"
            )
            return "created"
        except ApplicationError as exc:
            return exc.code

    results = race(4, ask)
    assert sorted(results) == ["created"] + ["role_request_open"] * 3
    assert RoleGrantRequest.objects.filter(user=target).count() == 1


def test_one_recovery_code_logs_in_once_under_concurrent_requests():
    from accounts import services
    from accounts.models import AuditCode, AuditEvent

    user = make_user(email="recovering@example.com")
    services.totp_setup(user=user)
    device = TOTPDevice.objects.get(user=user)
    codes = services.totp_confirm(user=user, otp=totp_code(device))

    def attempt():
        response = APIClient().post(
            "/api/v1/auth/login",
            {"email": user.email, "password": PASSWORD, "otp": codes[0]},
            format="json",
        )
        return response.status_code

    statuses = race(8, attempt)
    assert sorted(statuses) == [200] + [401] * 7
    used = AuditEvent.objects.filter(user=user, code=AuditCode.RECOVERY_CODE_USED)
    assert [event.extra for event in used] == [{"remaining": 9}]
