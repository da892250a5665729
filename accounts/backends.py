from django.contrib.auth.backends import AllowAllUsersModelBackend


class EmailBackend(AllowAllUsersModelBackend):
    """Email login, case-insensitive.

    Suspended users still authenticate here, so the login paths can say "suspended"
    instead of a misleading "wrong password"; they then refuse the login
    explicitly. Sessions of suspended users are dropped by `get_user`.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kw):
        return super().authenticate(
            request, username=email or username, password=password, **kw
        )

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None
