"""The request of a page behind `login_required`, for the type checker."""

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request whose user has signed in: `request.user` is a `User`, never an
    `AnonymousUser`. Annotate views behind `login_required` (and their helpers)."""

    user: User
