"""Pages for the legal documents and for accepting a new version of them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import ConsentForm
from accounts.http import AuthenticatedHttpRequest
from accounts.legal import documents_in_force, documents_to_accept
from accounts.services import RequestMeta
from accounts.views import _safe_next


def legal_document(request: HttpRequest, document: str) -> HttpResponse:
    """The document in force, public: a visitor reads it before signing up."""
    doc = next((d for d in documents_in_force() if d.document == document), None)
    if doc is None:
        raise Http404("No such document.")
    return render(request, f"legal/{doc.document}.html", {"doc": doc})


@login_required
@require_http_methods(["GET", "POST"])
def consent(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Where the consent middleware sends a signed-in user who has a document
    version to accept."""
    missing = documents_to_accept(request.user)
    if not missing:
        return redirect(_safe_next(request))
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.consent_accept(
            user=request.user, meta=RequestMeta.from_request(request)
        )
        return redirect(_safe_next(request))
    return render(
        request,
        "accounts/consent.html",
        {"form": form, "documents": missing, "next": request.GET.get("next", "")},
    )
