"""Test helpers shared by every app's tests (not imported by production code)."""

from __future__ import annotations

import itertools
import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import TOKEN_VERSION_CLAIM
from accounts.models import User
from accounts.roles import Role

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery-42"


def make_user(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    full_name: str = "Test User",
    roles: tuple[Role, ...] = (Role.TRADER,),
    is_staff: bool = False,
    is_superuser: bool = False,
    email_verified: bool = True,
) -> User:
    """A registered user with these roles (given directly, as seed data does),
    with a verified email address unless `email_verified=False`.

    `is_staff` follows the roles; pass it to make staff without a back-office
    role. `is_superuser` makes the user the way `manage.py createsuperuser` does
    (no service sets it)."""
    from accounts import services
    from accounts.roles import sync_role_permissions

    if set(roles) - {Role.TRADER}:
        # Transactional tests flush the tables, data migrations' groups included.
        sync_role_permissions()
    email = email or f"user{next(_counter)}@example.com"
    if is_superuser:
        user = User.objects.create_superuser(
            email=email, password=password, full_name=full_name
        )
    else:
        user = services.user_register(
            email=email,
            password=password,
            full_name=full_name,
            email_verified=email_verified,
            accept_terms=True,
        )
    user = services.user_roles_bootstrap(user=user, roles=list(roles))
    if is_staff and not user.is_staff:
        # a test's shortcut: staff with no back-office role
        User.objects.filter(pk=user.pk).update(is_staff=True)
        user.refresh_from_db()
    return user


def api_client_for(user: User) -> APIClient:
    """An API client carrying a valid access token for `user`."""
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh.access_token}")
    return client


def admin_client_for(user: User) -> Client:
    """A browser client logged in with a verified second factor (the admin needs
    one)."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="test", defaults={"confirmed": True}
    )
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    # the sign-in a real login records (accounts/services/sessions.py), so the
    # first page a test measures does not record it
    _sign_in_record(session, user)
    session.save()
    return client


def _sign_in_record(session, user: User) -> None:
    import uuid

    from accounts.models import SignIn
    from accounts.services.sessions import (
        SEEN_SESSION_KEY,
        SIGN_IN_SESSION_KEY,
        device_from_user_agent,
    )

    device = device_from_user_agent("")
    sign_in = SignIn.objects.create(
        public_id=uuid.uuid4(),
        user=user,
        kind=SignIn.Kind.WEB,
        session_key=session.session_key,
        device_fingerprint=device.fingerprint,
        device=device.label,
    )
    session[SIGN_IN_SESSION_KEY] = str(sign_in.public_id)
    session[SEEN_SESSION_KEY] = [session.session_key, int(time.time())]
