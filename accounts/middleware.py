"""Browser sessions follow their sign-in (accounts/services/sessions.py)."""

from __future__ import annotations

from accounts.services.sessions import sign_in_session_check


class SignInMiddleware:
    """After the auth middleware: a session whose sign-in was ended (from the
    sessions page, the API, a password change elsewhere) is logged out; a live
    one has its last-seen time and session key kept current. Requests without a
    session cookie cost nothing here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.session.session_key is not None:
            sign_in_session_check(request=request)
        return self.get_response(request)
