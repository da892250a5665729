"""The "API keys" section of the security pages: make a key (its HMAC secret
shown on this one response), change or revoke one. The same services as the API,
so the same second factor, audit and notices."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedHttpRequest
from accounts.selectors import user_has_two_factor
from accounts.services import RequestMeta
from apikeys import selectors, services
from apikeys.forms import ApiKeyCreateForm, ApiKeyUpdateForm
from apikeys.models import ApiKey
from config.errors import ApplicationError, http_status
from config.page_messages import form_add_error


def _owned(request: AuthenticatedHttpRequest, key_id: str) -> ApiKey | None:
    return selectors.api_key_list(user=request.user).filter(key_id=key_id).first()


def _initial(key: ApiKey) -> dict:
    return {
        "label": key.label,
        "ip_allowlist": "\n".join(key.ip_allowlist),
        "expires_at": key.expires_at,
    }


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    meta = RequestMeta.from_request(request)
    action = request.POST.get("action")
    create_form = ApiKeyCreateForm(request.POST if action == "create" else None)
    issued = None
    editing = None
    update_form = None
    status = 200
    if action == "create":
        if not create_form.is_valid():
            status = 400
        else:
            data = create_form.cleaned_data
            try:
                issued = services.api_key_create(
                    user=user,
                    kind=data["kind"],
                    label=data["label"],
                    scopes=data["scopes"],
                    ip_allowlist=data["ip_allowlist"],
                    expires_at=data["expires_at"],
                    public_key=data["public_key"] or None,
                    otp=data["otp"],
                    meta=meta,
                )
            except ApplicationError as exc:
                form_add_error(create_form, exc)
                status = http_status(exc)
            else:
                create_form = ApiKeyCreateForm()
    elif action in ("update", "revoke"):
        key = _owned(request, request.POST.get("key_id", ""))
        if key is None:
            messages.error(request, "No such API key.")
            return redirect("apikeys:api-keys")
        if action == "revoke":
            services.api_key_revoke(key=key, user=user, meta=meta)
            messages.success(request, f"Revoked: {key.key_id}.")
            return redirect("apikeys:api-keys")
        editing, update_form = key, ApiKeyUpdateForm(request.POST)
        if not update_form.is_valid():
            status = 400
        else:
            data = update_form.cleaned_data
            try:
                services.api_key_update(
                    key=key,
                    user=user,
                    label=data["label"],
                    ip_allowlist=data["ip_allowlist"],
                    expires_at=data["expires_at"],
                    otp=data["otp"],
                    meta=meta,
                )
            except ApplicationError as exc:
                form_add_error(update_form, exc)
                status = http_status(exc)
            else:
                messages.success(request, f"Changed: {key.key_id}.")
                return redirect("apikeys:api-keys")
    elif action is not None:
        messages.error(request, "Unknown action.")
        return redirect("apikeys:api-keys")
    elif "edit" in request.GET:
        editing = _owned(request, request.GET["edit"])
        if editing is not None and editing.revoked_at is None:
            update_form = ApiKeyUpdateForm(initial=_initial(editing))
        else:
            editing = None
    context = {
        "keys": selectors.api_key_list(user=user),
        "create_form": create_form,
        "update_form": update_form,
        "editing": editing,
        "issued": issued,
        "two_factor_enabled": user_has_two_factor(user=user),
    }
    return render(request, "apikeys/api_keys.html", context, status=status)
