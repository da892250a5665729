"""The review buttons: small POST-only admin views, one service each."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.services import RequestMeta
from config.errors import ApplicationError
from kyc import services
from kyc.forms import (
    CaseApproveForm,
    CaseRejectForm,
    CaseReleaseForm,
    CaseResubmissionForm,
    DocumentDecisionForm,
)
from kyc.models import KycCase, KycStatus
from kyc.selectors import REVIEW_PERMISSION


class ReviewButtonsMixin:
    """Claim, release, decide: POST only, behind the admin's login and second
    factor, each calling one service and redirecting back with a message."""

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(require_POST(view))

        return [
            path(
                "claim-next/", wrap(self.claim_next_view), name="kyc_kyccase_claim_next"
            ),
            path(
                "<int:case_id>/claim/", wrap(self.claim_view), name="kyc_kyccase_claim"
            ),
            path(
                "<int:case_id>/release/",
                wrap(self.release_view),
                name="kyc_kyccase_release",
            ),
            path(
                "<int:case_id>/documents/<int:document_id>/decide/",
                wrap(self.document_decide_view),
                name="kyc_kyccase_document_decide",
            ),
            path(
                "<int:case_id>/approve/",
                wrap(self.approve_view),
                name="kyc_kyccase_approve",
            ),
            path(
                "<int:case_id>/reject/",
                wrap(self.reject_view),
                name="kyc_kyccase_reject",
            ),
            path(
                "<int:case_id>/resubmission/",
                wrap(self.resubmission_view),
                name="kyc_kyccase_resubmission",
            ),
            *super().get_urls(),
        ]

    def _back(self, case_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:kyc_kyccase_change", args=[case_id]))

    def _run(self, request, case_id: int, action, success: str) -> HttpResponse:
        if not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        try:
            action(RequestMeta.from_request(request))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, success)
        return self._back(case_id)

    def _form_error(self, request, case_id: int, form) -> HttpResponse:
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()
        )
        messages.error(request, problems)
        return self._back(case_id)

    def claim_next_view(self, request):
        if not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        candidates = (
            KycCase.objects.filter(status=KycStatus.SUBMITTED)
            .exclude(profile__user=request.user)
            .exclude(first_approved_by=request.user)
            .order_by("submitted_at", "id")
            .values_list("pk", flat=True)[:20]
        )
        meta = RequestMeta.from_request(request)
        for case_id in candidates:
            try:
                services.kyc_case_claim(
                    case_id=case_id, reviewer=request.user, meta=meta
                )
            except ApplicationError:
                continue  # someone else was faster: try the next one
            messages.success(request, "Case claimed: it is yours until you decide it.")
            return self._back(case_id)
        messages.info(request, "No case is waiting for you.")
        return HttpResponseRedirect(reverse("admin:kyc_kyccase_changelist"))

    def claim_view(self, request, case_id: int):
        return self._run(
            request,
            case_id,
            lambda meta: services.kyc_case_claim(
                case_id=case_id, reviewer=request.user, meta=meta
            ),
            "Case claimed: it is yours until you decide or release it.",
        )

    def release_view(self, request, case_id: int):
        form = CaseReleaseForm(request.POST)
        form.is_valid()
        return self._run(
            request,
            case_id,
            lambda meta: services.kyc_case_release(
                case_id=case_id,
                reviewer=request.user,
                internal_note=form.cleaned_data.get("internal_note", ""),
                meta=meta,
            ),
            "Case released back to the queue.",
        )

    def document_decide_view(self, request, case_id: int, document_id: int):
        form = DocumentDecisionForm(request.POST)
        if not form.is_valid():
            return self._form_error(request, case_id, form)
        data = form.cleaned_data
        accept = data["decision"] == "accept"
        return self._run(
            request,
            case_id,
            lambda meta: services.kyc_document_decide(
                case_id=case_id,
                document_id=document_id,
                reviewer=request.user,
                accept=accept,
                reason_code=data["reason_code"],
                user_note=data["user_note"],
                internal_note=data["internal_note"],
                meta=meta,
            ),
            f"Document #{document_id} {'accepted' if accept else 'rejected'}.",
        )

    def approve_view(self, request, case_id: int):
        form = CaseApproveForm(request.POST)
        form.is_valid()

        def act(meta):
            case = services.kyc_case_approve(
                case_id=case_id,
                reviewer=request.user,
                internal_note=form.cleaned_data.get("internal_note", ""),
                meta=meta,
            )
            if case.status != KycStatus.APPROVED:
                messages.info(
                    request, "First approval recorded: another reviewer must confirm."
                )

        return self._run(request, case_id, act, "Decision recorded.")

    def reject_view(self, request, case_id: int):
        form = CaseRejectForm(request.POST)
        if not form.is_valid():
            return self._form_error(request, case_id, form)
        data = form.cleaned_data
        return self._run(
            request,
            case_id,
            lambda meta: services.kyc_case_reject(
                case_id=case_id,
                reviewer=request.user,
                reason_codes=data["reason_codes"],
                user_message=data["user_message"],
                internal_note=data["internal_note"],
                meta=meta,
            ),
            "Case rejected; the user was emailed.",
        )

    def resubmission_view(self, request, case_id: int):
        form = CaseResubmissionForm(request.POST)
        if not form.is_valid():
            return self._form_error(request, case_id, form)
        data = form.cleaned_data
        return self._run(
            request,
            case_id,
            lambda meta: services.kyc_case_request_resubmission(
                case_id=case_id,
                reviewer=request.user,
                document_types=data["document_types"],
                user_message=data["user_message"],
                internal_note=data["internal_note"],
                meta=meta,
            ),
            "Resubmission requested; the user was emailed.",
        )
