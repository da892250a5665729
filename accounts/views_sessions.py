"""The "Sessions and devices" page: where the account is signed in, end one or
all others (accounts/services/sessions.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.http import AuthenticatedHttpRequest
from accounts.services import RequestMeta
from accounts.services.sessions import SIGN_IN_SESSION_KEY
from config.errors import ApplicationError, http_status
from config.page_messages import page_message


@login_required
@require_http_methods(["GET", "POST"])
def sessions(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    current = request.session.get(SIGN_IN_SESSION_KEY)
    meta = RequestMeta.from_request(request)
    action = request.POST.get("action")
    status = 200
    if action == "end":
        try:
            ended = services.sign_in_end(
                user=user, public_id=request.POST.get("id", ""), meta=meta
            )
        except ApplicationError as exc:
            messages.error(request, page_message(exc))
            status = http_status(exc)
        else:
            if str(ended.public_id) == current:
                logout(request)
                messages.info(request, "You ended this session: you are logged out.")
                return redirect("accounts:login")
            messages.success(request, f"Ended: {ended.device}.")
            return redirect("accounts:sessions")
    elif action == "end-others":
        count = services.sign_ins_end_others(user=user, current=current, meta=meta)
        messages.success(request, f"Ended {count} other sign-in(s).")
        return redirect("accounts:sessions")
    rows = services.sign_in_list(user=user)
    context = {
        "sign_ins": [(row, str(row.public_id) == current) for row in rows],
        "others": sum(1 for row in rows if str(row.public_id) != current),
    }
    return render(request, "accounts/sessions.html", context, status=status)
