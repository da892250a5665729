"""The privacy page: download your data, close your account."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.selectors import user_has_two_factor
from accounts.services import RequestMeta
from config.errors import ApplicationError
from config.page_messages import form_add_problems, page_message
from privacy import services
from privacy.api import export_response
from privacy.selectors import closure_blockers


class CloseForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, max_length=128, strip=False)
    otp = forms.CharField(
        max_length=16,
        required=False,
        label="Code from your second factor",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
    confirm = forms.BooleanField(
        label="I understand that closing my account cannot be undone",
        error_messages={"required": "Tick the box to confirm."},
    )


@login_required
@require_http_methods(["GET", "POST"])
def privacy(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    form = CloseForm(request.POST or None)
    if not user_has_two_factor(user=user):
        del form.fields["otp"]
    if request.method == "POST" and form.is_valid():
        try:
            services.account_close(
                user=user,
                password=form.cleaned_data["password"],
                otp=form.cleaned_data.get("otp") or None,
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as exc:
            form_add_problems(form, exc)
        else:
            logout(request)
            messages.info(request, "Your account is closed. We have emailed you.")
            return redirect("accounts:login")
    return render(
        request,
        "privacy/privacy.html",
        {"form": form, "blockers": closure_blockers(user=user)},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def export(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    try:
        chunks = services.user_data_export(
            user=request.user, meta=RequestMeta.from_request(request)
        )
    except ApplicationError as exc:
        messages.error(request, page_message(exc))
        return redirect("privacy:privacy")
    return export_response(chunks, user_id=request.user.pk)
