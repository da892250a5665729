"""The "Notification channels" page (the phone number for SMS, this browser's
Web Push, the mobile devices) and the service worker at /sw.js."""

from __future__ import annotations

import functools
from pathlib import Path

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedHttpRequest
from accounts.services import RequestMeta
from config.domain_errors import ApplicationError
from devices import providers, selectors, services


class PhoneForm(forms.Form):
    number = forms.CharField(
        max_length=32,
        label="Mobile number",
        help_text="With its country code, e.g. +44 7700 900123.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class CodeForm(forms.Form):
    code = forms.RegexField(
        r"^\s*[0-9]{6}\s*$",
        max_length=16,
        label="Code from the SMS",
        error_messages={"invalid": "The 6-digit code from the SMS."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )


def _form_error(form: forms.Form, exc: ApplicationError) -> None:
    field = next((f for f in exc.details if f in form.fields), None)
    form.add_error(field, exc.message.split(": ", 1)[-1] if field else exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def channels(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    meta = RequestMeta.from_request(request)
    action = request.POST.get("action", "")
    phone_form = PhoneForm(
        request.POST if action == "phone-code" else None,
        initial={"number": user.phone},
    )
    code_form = CodeForm(request.POST if action == "phone-verify" else None)
    status = 200
    if request.method == "POST":
        try:
            if action == "phone-code":
                if phone_form.is_valid():
                    challenge = services.phone_code_send(
                        user=user, number=phone_form.cleaned_data["number"], meta=meta
                    )
                    messages.success(request, f"We sent a code to {challenge.number}.")
                    return redirect("devices:channels")
            elif action == "phone-verify":
                if code_form.is_valid():
                    phone = services.phone_code_confirm(
                        user=user, code=code_form.cleaned_data["code"], meta=meta
                    )
                    messages.success(request, f"{phone.number} is verified.")
                    return redirect("devices:channels")
            elif action == "phone-remove":
                services.phone_remove(user=user, meta=meta)
                messages.success(request, "SMS turned off: we forgot the number.")
                return redirect("devices:channels")
            elif action == "webpush-remove":
                services.webpush_subscription_remove(
                    user=user, subscription_id=int(request.POST.get("id") or 0)
                )
                messages.success(request, "That browser gets no more notifications.")
                return redirect("devices:channels")
            elif action == "mobile-remove":
                services.mobile_device_remove(
                    user=user, device_id=int(request.POST.get("id") or 0)
                )
                messages.success(request, "That device gets no more notifications.")
                return redirect("devices:channels")
            else:
                messages.error(request, "Unknown action.")
                status = 400
        except ApplicationError as exc:
            if action == "phone-code":
                _form_error(phone_form, exc)
            elif action == "phone-verify":
                _form_error(code_form, exc)
            else:
                messages.error(request, exc.message.split(": ", 1)[-1])
        except ValueError:
            messages.error(request, "Unknown device.")
        if phone_form.errors or code_form.errors:
            status = 400
    return render(
        request,
        "devices/channels.html",
        {
            "phone": selectors.phone_state(user=user),
            "phone_form": phone_form,
            "code_form": code_form,
            "sms_available": providers.sms_configured(),
            "webpush_available": providers.webpush_configured(),
            "vapid_public_key": providers.webpush_public_key_or_empty(),
            "browsers": selectors.webpush_subscription_list(user=user),
            "mobile_devices": selectors.mobile_device_list(user=user),
            "api": {
                "subscriptions": reverse("api-devices-webpush-subscriptions"),
                "unsubscribe": reverse("api-devices-webpush-unsubscribe"),
            },
        },
        status=status,
    )


@functools.cache
def _service_worker_source() -> bytes:
    found = finders.find("devices/sw.js")
    if not found:
        raise Http404("no service worker")
    return Path(str(found)).read_bytes()


@require_GET
def service_worker(request) -> HttpResponse:
    """The Web Push service worker, at the root so that its scope is the whole
    site: shows each push as a notification and opens its link on click."""
    response = HttpResponse(
        _service_worker_source(), content_type="text/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
