"""Pages for getting back in and proving the address: password reset, email
verification (and its resend), changing the email, and the signup's answer.

No page here tells whether an email is registered."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.selectors import user_has_two_factor
from accounts.services import RequestMeta
from accounts.services.recovery import RateLimited, password_reset_request_answer
from config.errors import ApplicationError, http_status
from config.page_messages import form_add_problems, page_message

RESET_TOKEN_SESSION_KEY = "_password_reset_token"
# The link's token moves into the session and the address bar shows this instead,
# so the token does not leak through the Referer of the form's page (Django's
# own PasswordResetConfirmView does the same).
RESET_URL_TOKEN = "set-password"


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=254)


class PasswordResetForm(forms.Form):
    new_password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=128,
        strip=False,
        label="New password",
    )
    new_password2 = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=128,
        strip=False,
        label="New password again",
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("new_password")
            and data.get("new_password2")
            and data["new_password"] != data["new_password2"]
        ):
            self.add_error("new_password2", "The two passwords differ.")
        return data


class PasswordResetWithOtpForm(PasswordResetForm):
    otp = forms.CharField(
        max_length=64,
        label="Two-factor code",
        help_text="From your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


class EmailChangeForm(forms.Form):
    email = forms.EmailField(max_length=254, label="New email address")
    password = forms.CharField(
        widget=forms.PasswordInput, max_length=128, strip=False, label="Password"
    )


def site_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _add_error(form, exc: ApplicationError) -> None:
    form_add_problems(form, exc)


def _throttled(request: HttpRequest, template: str, context: dict, exc: RateLimited):
    response = render(
        request, template, {**context, "throttled": exc.message}, status=429
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


# --- Password reset -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_request(
                email=form.cleaned_data["email"],
                site_url=site_url(request),
                meta=RequestMeta.from_request(request),
            )
        except RateLimited as exc:
            return _throttled(
                request, "accounts/password_reset.html", {"form": form}, exc
            )
        return redirect("accounts:password-reset-sent")
    return render(request, "accounts/password_reset.html", {"form": form})


def password_reset_sent(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/password_reset_sent.html",
        {"answer": password_reset_request_answer()},
    )


@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, uidb64: str, token: str):
    if token != RESET_URL_TOKEN:
        request.session[RESET_TOKEN_SESSION_KEY] = token
        return redirect("accounts:password-reset-confirm", uidb64, RESET_URL_TOKEN)
    token = request.session.get(RESET_TOKEN_SESSION_KEY, "")
    try:
        user = services.password_reset_user(uid=uidb64, token=token)
    except ApplicationError as exc:
        return render(
            request,
            "accounts/password_reset_confirm.html",
            {"invalid": exc.message},
            status=http_status(exc),
        )
    form_class = (
        PasswordResetWithOtpForm
        if user_has_two_factor(user=user)
        else PasswordResetForm
    )
    form = form_class(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_complete(
                uid=uidb64,
                token=token,
                new_password=form.cleaned_data["new_password"],
                otp=form.cleaned_data.get("otp"),
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as exc:
            _add_error(form, exc)
            status = http_status(exc)
        else:
            request.session.pop(RESET_TOKEN_SESSION_KEY, None)
            if request.user.is_authenticated:
                logout(request)  # whoever was signed in here signs in afresh
            return redirect("accounts:password-reset-done")
    return render(
        request,
        "accounts/password_reset_confirm.html",
        {"form": form, "reset_user": user},
        status=status,
    )


def password_reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_done.html")


# --- Signup's answer, email verification, email change ------------------------------


def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html")


@require_http_methods(["GET", "POST"])
def email_verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST verifies: mail scanners that open links do not
    verify (or change) an address on their own."""
    if request.method == "GET":
        return render(request, "accounts/email_verify.html", {"token": token})
    try:
        user = services.email_verify(
            token=token, meta=RequestMeta.from_request(request)
        )
    except ApplicationError as exc:
        return render(
            request,
            "accounts/email_verify.html",
            {"error": exc.message},
            status=http_status(exc),
        )
    return render(request, "accounts/email_verify.html", {"verified": user.email})


@login_required
@require_POST
def email_verification_send(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        services.email_verification_send(
            user=request.user,
            site_url=site_url(request),
            meta=RequestMeta.from_request(request),
        )
    except RateLimited as exc:
        return _throttled(
            request, "accounts/email_message.html", {"title": "Email address"}, exc
        )
    except ApplicationError as exc:
        messages.error(request, page_message(exc))
    else:
        messages.success(request, f"A new link is on its way to {request.user.email}.")
    return redirect("accounts:security")


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = EmailChangeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.user_profile_update(
                user=User.objects.get(pk=request.user.pk),
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                site_url=site_url(request),
                meta=RequestMeta.from_request(request),
            )
        except RateLimited as exc:
            return _throttled(
                request, "accounts/email_change.html", {"form": form}, exc
            )
        except ApplicationError as exc:
            _add_error(form, exc)
            status = http_status(exc)
        else:
            messages.success(
                request,
                f"We sent a link to {form.cleaned_data['email'].lower()}. Your "
                "address changes when you follow it.",
            )
            return redirect("accounts:security")
    return render(request, "accounts/email_change.html", {"form": form}, status=status)
