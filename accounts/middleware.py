"""The accounts app's two page middlewares.

- `SignInMiddleware`: browser sessions follow their sign-in
  (accounts/services/sessions.py).
- `ConsentMiddleware`: pages wait for consent: a signed-in user with a legal
  document version still to accept sees the consent page first
  (accounts/views_consent.py).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.legal import documents_to_accept
from accounts.services.sessions import sign_in_session_check

# Served whatever the user has accepted: the API (it asks at sign-in, see
# accounts.services.consent), the back office (staff accept at their own sign-in
# to the pages), streams, files, probes, and the pages needed to accept or leave.
_EXEMPT_PREFIXES = ("/api/", "/admin/", "/static/", "/ws/", "/legal/", "/healthz")


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


class ConsentMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_EXEMPT_PREFIXES) or request.path in _exempt_paths():
            return self.get_response(request)
        user = request.user  # read only here: API requests never load a session
        if user.is_authenticated and documents_to_accept(user):
            target = reverse("accounts:consent")
            return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def _exempt_paths() -> tuple[str, ...]:
    return (reverse("accounts:consent"), reverse("accounts:logout"), "/readyz")
