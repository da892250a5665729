"""Staff of every role, made through the real services."""

import pytest

from accounts.roles import Role
from accounts.testing import make_user


def staff(email: str, role: Role):
    return make_user(
        email=email, full_name=email.split("@")[0], roles=(role,), is_staff=True
    )


@pytest.fixture
def operator(db):
    return staff("operator@example.com", Role.OPERATOR)


@pytest.fixture
def support(db):
    return staff("support@example.com", Role.SUPPORT)


@pytest.fixture
def reviewer(db):
    return staff("reviewer@example.com", Role.KYC_REVIEWER)
