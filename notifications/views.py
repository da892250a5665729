"""Browser pages: the notification list with mark read, the preferences grid,
and the one-click unsubscribe of the emails (RFC 8058). Thin: services write."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config.domain_errors import ApplicationError
from notifications import catalogue, services
from notifications.email import unsubscribe_token_read
from notifications.selectors import notification_list

PAGE_SIZE = 25


@login_required
def notification_page(request: HttpRequest) -> HttpResponse:
    rows = notification_list(user=request.user)
    before = request.GET.get("before", "")
    if before.isdigit():
        rows = rows.filter(pk__lt=int(before))
    page = list(rows[: PAGE_SIZE + 1])
    next_url = ""
    if len(page) > PAGE_SIZE:
        page = page[:PAGE_SIZE]
        next_url = f"{reverse('notifications:list')}?before={page[-1].pk}"
    return render(
        request,
        "notifications/list.html",
        {"items": page, "next_url": next_url, "first": not before},
    )


def _next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    try:
        services.notification_mark_read(
            user=request.user, notification_id=notification_id
        )
    except ApplicationError as exc:  # another user's, or none: the same 404
        raise Http404(exc.message) from exc
    return redirect(_next(request, reverse("notifications:list")))


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = services.notification_mark_all_read(user=request.user)
    messages.success(request, f"{count} notification(s) marked read.")
    return redirect(_next(request, reverse("notifications:list")))


@login_required
@require_http_methods(["GET", "POST"])
def preferences_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        changes = [
            (spec.code, channel, f"{spec.code}:{channel}" in request.POST)
            for spec in catalogue.TYPES
            if not spec.security
            for channel in catalogue.CHANNELS
        ]
        services.preferences_update(user=request.user, changes=changes)
        messages.success(request, "Your notification choices are saved.")
        return redirect("notifications:preferences")
    grid = services.preference_grid(user=request.user)
    categories = [
        (label, [row for row in grid if row.event_type.category == code])
        for code, label in catalogue.CATEGORY_LABELS.items()
    ]
    return render(
        request,
        "notifications/preferences.html",
        {
            "categories": categories,
            "channels": [(c, catalogue.CHANNEL_LABELS[c]) for c in catalogue.CHANNELS],
        },
    )


@csrf_exempt  # the signed token is the credential (RFC 8058 one-click POST)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what the link stops and asks to confirm; POST (the button, or a
    mail client's one-click `List-Unsubscribe=One-Click`) turns that type's
    emails off."""
    found = unsubscribe_token_read(token)
    spec = catalogue.BY_CODE.get(found[1]) if found else None
    user = (
        get_user_model().objects.filter(pk=found[0]).first()
        if found and spec and not spec.security
        else None
    )
    if user is None or spec is None:
        return render(
            request, "notifications/unsubscribe.html", {"invalid": True}, status=400
        )
    done = False
    if request.method == "POST":
        services.preferences_update(
            user=user, changes=[(spec.code, catalogue.EMAIL, False)]
        )
        done = True
    return render(
        request,
        "notifications/unsubscribe.html",
        {"event_type": spec, "email": user.email, "done": done, "token": token},
    )
