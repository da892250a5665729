"""Pages for the second factors beside the authenticator: recovery codes and
passkeys (django-otp-webauthn's ceremonies, wrapped for our two-step login)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware import csrf
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from accounts import services
from accounts.forms import OtpForm, PasskeyRemoveForm, PasskeyRenameForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.selectors import passkey_list, recovery_codes_remaining, totp_enabled
from accounts.services import RequestMeta
from accounts.views import BACKEND, PENDING_2FA_SESSION_KEY, _add_error
from config.errors import ApplicationError, http_status


def passkey_script_config(request: HttpRequest) -> dict:
    """What django-otp-webauthn's scripts read from `#otp_webauthn_config` (a
    JSON data block, so the page needs no inline script): our views' URLs."""
    return {
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
        "csrfToken": csrf.get_token(request),
        "beginAuthenticationUrl": reverse("accounts:passkey-login-begin"),
        "completeAuthenticationUrl": reverse("accounts:passkey-login-complete"),
        "beginRegistrationUrl": reverse("accounts:passkey-register-begin"),
        "completeRegistrationUrl": reverse("accounts:passkey-register-complete"),
    }


def recovery_codes_page(
    request: AuthenticatedHttpRequest, codes: list[str], *, first: bool
) -> HttpResponse:
    """The one page that shows recovery codes (the response to the action that
    made them; they are not stored in clear anywhere), with a text download."""
    text = "\n".join(
        [
            f"Recovery codes for {request.user.email}",
            "Each code works once, in place of an authenticator code.",
            "",
            *codes,
            "",
        ]
    )
    response = render(
        request,
        "accounts/recovery_codes.html",
        {"codes": codes, "first": first, "download": text},
    )
    response["Cache-Control"] = "no-store"
    return response


# --- The factors page -----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def factors(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    meta = RequestMeta.from_request(request)
    action = request.POST.get("action")
    regenerate_form = OtpForm(request.POST if action == "recovery-regenerate" else None)
    rename_form = PasskeyRenameForm(
        request.POST if action == "passkey-rename" else None
    )
    remove_form = PasskeyRemoveForm(
        request.POST if action == "passkey-remove" else None
    )
    status = 200
    try:
        if action == "recovery-regenerate" and regenerate_form.is_valid():
            codes = services.recovery_codes_regenerate(
                user=user, otp=regenerate_form.cleaned_data["otp"], meta=meta
            )
            return recovery_codes_page(request, codes, first=False)
        if action == "passkey-rename" and rename_form.is_valid():
            services.passkey_rename(
                user=user,
                passkey_id=rename_form.cleaned_data["passkey"],
                name=rename_form.cleaned_data["name"],
            )
            messages.success(request, "Passkey renamed.")
            return redirect("accounts:factors")
        if action == "passkey-remove" and remove_form.is_valid():
            services.passkey_remove(
                user=user,
                passkey_id=remove_form.cleaned_data["passkey"],
                otp=remove_form.cleaned_data["otp"],
                meta=meta,
            )
            messages.success(request, "Passkey removed.")
            return redirect("accounts:factors")
        if request.method == "POST":
            status = 400
    except ApplicationError as exc:
        form = {
            "recovery-regenerate": regenerate_form,
            "passkey-rename": rename_form,
        }.get(action or "", remove_form)
        _add_error(form, exc)
        status = http_status(exc) if http_status(exc) != 401 else 400
    context = {
        "two_factor_enabled": totp_enabled(user=user),
        "recovery_remaining": recovery_codes_remaining(user=user),
        "passkeys": passkey_list(user=user),
        "regenerate_form": regenerate_form,
        "rename_form": rename_form,
        "remove_form": remove_form,
        "passkey_config": passkey_script_config(request),
    }
    return render(request, "accounts/factors.html", context, status=status)


# --- Passkey ceremonies ---------------------------------------------------------


class _PostOnly:
    """The ceremonies answer POST only, before any check runs (the library's
    views run their checks first, so a GET got a check's answer)."""

    def dispatch(self, request, *args, **kwargs):
        if request.method != "POST":
            return self.http_method_not_allowed(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)


class AuthenticatorFirst(webauthn_errors.OTPWebAuthnApiError):
    status_code = 409
    default_code = "two_factor_not_enabled"
    default_detail = (
        "Turn on two-factor login with an authenticator app first: passkeys are "
        "added beside it."
    )


class _RegistrationRules:
    def check_can_register(self):
        if not totp_enabled(user=self.request.user):
            raise AuthenticatorFirst()


class PasskeyRegisterBeginView(
    _PostOnly, _RegistrationRules, BeginCredentialRegistrationView
):
    """Options for a new passkey: signed in, 2FA on and this session verified
    with a factor (the library checks that)."""


class PasskeyRegisterCompleteView(
    _PostOnly, _RegistrationRules, CompleteCredentialRegistrationView
):
    """Saves the passkey and audits it (`PASSKEY_ADDED`) in one transaction."""

    def post(self, *args, **kwargs):
        with transaction.atomic():
            response = super().post(*args, **kwargs)
            passkey = WebAuthnCredential.objects.get(
                pk=json.loads(response.content)["id"], user=self.request.user
            )
            services.passkey_added_record(
                user=self.request.user,
                passkey=passkey,
                meta=RequestMeta.from_request(self.request),
            )
        return response


def _pending_user(request: HttpRequest) -> User | None:
    """The user who gave the right password and is at the second step."""
    user_id = request.session.get(PENDING_2FA_SESSION_KEY)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    return user if user is not None and user.is_active else None


class PasskeyLoginBeginView(_PostOnly, BeginCredentialAuthenticationView):
    """The second step of a login with a passkey: only for the user who passed
    the password step in this session (no passwordless login)."""

    def get_user(self):
        return _pending_user(self.request)


class PasskeyLoginCompleteView(_PostOnly, CompleteCredentialAuthenticationView):
    def get_user(self):
        return _pending_user(self.request)

    def check_can_authenticate(self):
        if self.get_user() is None:
            raise webauthn_errors.NotAuthenticated()

    def complete_auth(self, device):
        request = self.request
        user = self.get_user()
        self._next = request.session.pop("pending_2fa_next", reverse("home"))
        request.session.pop(PENDING_2FA_SESSION_KEY, None)
        login(request, user, backend=BACKEND)
        otp_login(request, device)
        services.login_succeeded_record(request=request, user=user, channel="web")

    def get_success_url(self):
        return self._next
