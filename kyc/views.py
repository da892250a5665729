"""Browser pages: the user's verification page and the session-authenticated file
view (used by the page and by the admin's inline previews)."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.services import RequestMeta
from config.errors import ApplicationError, NotFound, http_status
from config.page_messages import form_add_problems, page_message
from kyc import services
from kyc.files import document_response
from kyc.forms import KycDocumentForm, KycProfileForm
from kyc.models import DocumentType
from kyc.selectors import kyc_document_for_viewer, kyc_overview
from kyc.uploads import check_request_size


def _add_error(form, exc: ApplicationError) -> None:
    form_add_problems(form, exc)


def _profile_initial(profile) -> dict:
    if profile is None:
        return {}
    return {
        name: getattr(profile, name)
        for name in (
            "legal_name",
            "date_of_birth",
            "country",
            "address_line1",
            "address_line2",
            "city",
            "postal_code",
            "id_type",
        )
    }


@login_required
@require_http_methods(["GET", "POST"])
def kyc_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    meta = RequestMeta.from_request(request)
    action = request.POST.get("action")
    overview = kyc_overview(user=user)
    profile_form = KycProfileForm(
        request.POST if action == "profile" else None,
        initial=_profile_initial(overview["profile"]),
    )
    document_form = KycDocumentForm(
        request.POST if action == "upload" else None,
        request.FILES if action == "upload" else None,
    )
    status = 200
    try:
        if action == "profile" and profile_form.is_valid():
            services.kyc_profile_update(
                user=user, **profile_form.cleaned_data, meta=meta
            )
            messages.success(request, "Profile saved.")
            return redirect("kyc:page")
        if action == "upload":
            check_request_size(request.META.get("CONTENT_LENGTH"))
            if document_form.is_valid():
                services.kyc_document_upload(
                    user=user,
                    doc_type=document_form.cleaned_data["doc_type"],
                    uploaded=document_form.cleaned_data["file"],
                    meta=meta,
                )
                messages.success(request, "Document uploaded.")
                return redirect("kyc:page")
        if action == "delete":
            services.kyc_document_delete(
                user=user,
                document_id=int(request.POST.get("document_id") or 0),
                meta=meta,
            )
            messages.success(request, "Document deleted.")
            return redirect("kyc:page")
        if action == "submit":
            services.kyc_submit(user=user, meta=meta)
            messages.success(request, "Submitted. A reviewer will look at it soon.")
            return redirect("kyc:page")
    except ApplicationError as exc:
        if action == "profile":
            _add_error(profile_form, exc)
        elif action == "upload":
            _add_error(document_form, exc)
        else:
            messages.error(request, page_message(exc))
            return redirect("kyc:page")
        status = http_status(exc)
    if request.method == "POST" and status == 200:
        status = 400  # a form was invalid
    context = {
        **overview,
        "profile_form": profile_form,
        "document_form": document_form,
        "type_labels": dict(DocumentType.choices),
    }
    return render(request, "kyc/page.html", context, status=status)


@require_GET
def kyc_document_file(request: HttpRequest, document_id: int) -> FileResponse:
    """Owner, or a reviewer whose session passed the second factor; else 404.
    `?page=N`: page N of a PDF as the image rendered at upload."""
    user = request.user
    try:
        document = kyc_document_for_viewer(
            user=user,
            document_id=document_id,
            second_factor=bool(getattr(user, "is_verified", lambda: False)()),
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = document_response(document, request.GET.get("page"))
    if response is None:
        raise Http404("No such page.")
    # the selector returned the document: the viewer has signed in
    viewer = cast(User, user)
    services.kyc_document_view_record(
        document=document, viewer=viewer, meta=RequestMeta.from_request(request)
    )
    return response
