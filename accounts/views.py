"""Browser pages for identity: sign up, log in (+ OTP step), log out, security."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.errors import AccountsErrorCode as Code
from accounts.forms import (
    DisableTwoFactorForm,
    LoginForm,
    OtpForm,
    PasswordChangeForm,
    PreferencesForm,
    SignupForm,
)
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.selectors import (
    passkey_list,
    security_event_list,
    totp_enabled,
    user_has_two_factor,
)
from accounts.services import RequestMeta
from accounts.services.sessions import SIGN_IN_SESSION_KEY
from accounts.timezones import TZ_COOKIE
from config.errors import ApplicationError, http_status
from config.page_messages import form_add_error, form_add_problems, page_message

PENDING_2FA_SESSION_KEY = "pending_2fa_user_id"
BACKEND = "accounts.backends.EmailBackend"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("home")


def _add_error(form, exc: ApplicationError) -> None:
    form_add_problems(form, exc)


@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """Visitors: the landing page (markets with live prices, what this is, sign
    up). Signed in: their home (value, P&L, chart, positions, orders, activity,
    watchlist: figures from marketdata's `home_figures` tags) and preferences."""
    if not request.user.is_authenticated:
        return render(request, "landing.html")
    user = cast(User, request.user)
    browser_zone = request.COOKIES.get(TZ_COOKIE, "")
    if request.method == "POST" and request.POST.get("action") == "preferences":
        form = PreferencesForm(request.POST, browser_zone=browser_zone)
        if form.is_valid():
            try:
                services.user_profile_update(
                    user=user,
                    time_zone=form.cleaned_data["time_zone"],
                    display_currency=form.cleaned_data["display_currency"],
                    meta=RequestMeta.from_request(request),
                )
            except ApplicationError as exc:
                form_add_error(form, exc)
            else:
                messages.success(request, "Preferences saved.")
                return redirect(reverse("home") + "#preferences")
        status = 400
    else:
        form = PreferencesForm(
            initial={
                "time_zone": user.time_zone,
                "display_currency": user.display_currency,
            },
            browser_zone=browser_zone,
        )
        status = 200
    return render(request, "home.html", {"preferences_form": form}, status=status)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """The same answer whether the email is new or registered (no login here:
    that would tell them apart); the user logs in after confirming the address."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_signup(
                **form.cleaned_data,
                site_url=request.build_absolute_uri("/").rstrip("/"),
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            return redirect("accounts:signup-sent")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.auth_authenticate(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ApplicationError as exc:
            form.add_error(None, page_message(exc))
            status = http_status(exc)
        else:
            if user_has_two_factor(user=user):
                request.session[PENDING_2FA_SESSION_KEY] = user.pk
                request.session["pending_2fa_next"] = _safe_next(request)
                return redirect("accounts:login-otp")
            login(request, user, backend=BACKEND)
            services.login_succeeded_record(request=request, user=user, channel="web")
            return redirect(_safe_next(request))
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": request.GET.get("next", "")},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def login_otp(request: HttpRequest) -> HttpResponse:
    user_id = request.session.get(PENDING_2FA_SESSION_KEY)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is None or not user.is_active:
        return redirect("accounts:login")
    form = OtpForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = services.auth_second_factor(
                request=request, user=user, otp=form.cleaned_data["otp"]
            )
        except ApplicationError as exc:
            _add_error(form, exc)
            status = http_status(exc)
        else:
            next_url = request.session.pop("pending_2fa_next", reverse("home"))
            request.session.pop(PENDING_2FA_SESSION_KEY, None)
            login(request, user, backend=BACKEND)
            if device is not None:
                otp_login(request, device)
            services.login_succeeded_record(request=request, user=user, channel="web")
            return redirect(next_url)
    context = {"form": form, "has_passkeys": passkey_list(user=user).exists()}
    if context["has_passkeys"]:
        from accounts.views_factors import passkey_script_config

        context["passkey_config"] = passkey_script_config(request)
    return render(request, "accounts/login_otp.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.sign_in_logout(request=request)
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("accounts:login")


@login_required
@require_http_methods(["GET", "POST"])
def security(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    meta = RequestMeta.from_request(request)
    action = request.POST.get("action")
    confirm_form = OtpForm(request.POST if action == "2fa-confirm" else None)
    disable_form = DisableTwoFactorForm(
        request.POST if action == "2fa-disable" else None
    )
    password_form = PasswordChangeForm(request.POST if action == "password" else None)
    provisioning = None
    status = 200

    try:
        if action == "2fa-setup":
            provisioning = services.totp_setup(user=user)
            request.session["totp_provisioning"] = {
                "secret": provisioning.secret,
                "otpauth_uri": provisioning.otpauth_uri,
                "qr_svg": provisioning.qr_svg,
            }
        elif action == "2fa-confirm" and confirm_form.is_valid():
            from accounts.views_factors import recovery_codes_page

            codes = services.totp_confirm(
                user=user, otp=confirm_form.cleaned_data["otp"], meta=meta
            )
            request.session.pop("totp_provisioning", None)
            # this session proved the new factor: it may add passkeys at once
            otp_login(request, TOTPDevice.objects.get(user=user, confirmed=True))
            return recovery_codes_page(request, codes, first=True)
        elif action == "2fa-disable" and disable_form.is_valid():
            services.totp_disable(user=user, **disable_form.cleaned_data, meta=meta)
            messages.success(request, "Two-factor login is off.")
            return redirect("accounts:security")
        elif action == "password" and password_form.is_valid():
            services.password_change(
                user=user,
                **password_form.cleaned_data,
                meta=meta,
                keep_sign_in=request.session.get(SIGN_IN_SESSION_KEY),
            )
            user.refresh_from_db()
            update_session_auth_hash(request, user)
            messages.success(request, "Password changed. Every API token was revoked.")
            return redirect("accounts:security")
    except ApplicationError as exc:
        form = {"2fa-confirm": confirm_form, "2fa-disable": disable_form}.get(
            action or "", password_form
        )
        _add_error(form, exc)
        status = 400 if exc.code != Code.TWO_FACTOR_ALREADY_ENABLED else 409

    if provisioning is None and request.session.get("totp_provisioning"):
        provisioning = request.session["totp_provisioning"]
    context = {
        "two_factor_enabled": totp_enabled(user=user),
        "provisioning": provisioning,
        "confirm_form": confirm_form,
        "disable_form": disable_form,
        "password_form": password_form,
        "events": security_event_list(user=user)[:20],
    }
    return render(request, "accounts/security.html", context, status=status)
