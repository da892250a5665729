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
    tokens = APIClient().post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        format="json",
    ).json()

    def attempt():
        response = APIClient().post(
            "/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
        )
        return response.status_code

    statuses = race(8, attempt)
    assert sorted(statuses) == [200] + [401] * 7
