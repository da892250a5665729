"""The accounts fixtures (a user, a user with 2FA) for the privacy tests."""

from accounts.tests.conftest import user, user_with_2fa  # noqa: F401
