"""What a locked-out client sees (django-axes calls this), for API and pages."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from config.errors import error_body

LOCKED_CODE = "login_locked"


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        "Too many failed login attempts. This account is locked for this address "
        f"for {minutes} minutes."
    )


def lockout_response(request, original_response=None, credentials=None):
    if request.path.startswith("/api/"):
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        return JsonResponse(
            error_body(LOCKED_CODE, lockout_message(), {"cooloff_minutes": minutes}),
            status=429,
        )
    return render(
        request,
        "accounts/login.html",
        {"locked_message": lockout_message(), "form_errors": []},
        status=429,
    )
