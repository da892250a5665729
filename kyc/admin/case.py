"""The review queue and the one-screen case view."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from kyc import crypto
from kyc.admin.buttons import ReviewButtonsMixin
from kyc.admin.filters import CountryFilter, QueueFilter
from kyc.countries import country_name
from kyc.forms import (
    CaseApproveForm,
    CaseRejectForm,
    CaseReleaseForm,
    CaseResubmissionForm,
    DocumentDecisionForm,
)
from kyc.identity import age_on
from kyc.models import DocumentStatus, KycCase, KycStatus
from kyc.selectors import (
    REVIEW_PERMISSION,
    kyc_case_documents,
    kyc_case_events,
    kyc_case_history,
    kyc_profiles_sharing_id_number,
)

_BADGE = {
    KycStatus.SUBMITTED: "#8a5300",
    KycStatus.IN_REVIEW: "#2458c6",
    KycStatus.APPROVED: "#0b7a43",
    KycStatus.REJECTED: "#b3261e",
    KycStatus.RESUBMISSION_REQUESTED: "#b3261e",
}


@admin.register(KycCase)
class KycCaseAdmin(ReviewButtonsMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user_email",
        "legal_name",
        "purpose",
        "country_display",
        "status_badge",
        "submitted_at",
        "waiting_for",
        "claimed_by",
        "four_eyes",
    )
    list_display_links = ("id", "user_email", "legal_name")
    list_filter = (QueueFilter, CountryFilter)
    search_fields = ("profile__user__email", "legal_name", "profile__legal_name")
    list_select_related = ("profile__user", "claimed_by", "first_approved_by")
    ordering = ("submitted_at", "id")
    list_per_page = 50
    show_full_result_count = False
    actions = None
    change_list_template = "admin/kyc/kyccase/change_list.html"

    # Cases change only through the review buttons (services), never a form.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Email", ordering="profile__user__email")
    def user_email(self, case):
        return case.profile.user.email

    @admin.display(description="Country", ordering="country")
    def country_display(self, case):
        return f"{country_name(case.country)} ({case.country})"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, case):
        return format_html(
            '<strong style="color:{}">{}</strong>',
            _BADGE.get(case.status, "inherit"),
            case.get_status_display(),
        )

    @admin.display(description="Waiting")
    def waiting_for(self, case):
        if not case.is_open:
            return "—"
        return timesince(case.submitted_at, timezone.now())

    @admin.display(description="4 eyes")
    def four_eyes(self, case):
        if not case.needs_second_approval:
            return ""
        if case.first_approved_by_id and case.is_open:
            return f"2nd needed (1st: {case.first_approved_by})"
        return "required"

    # --- Queue ----------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        counts = KycCase.objects.aggregate(
            waiting=Count("id", filter=Q(status=KycStatus.SUBMITTED)),
            in_review=Count("id", filter=Q(status=KycStatus.IN_REVIEW)),
            second=Count(
                "id",
                filter=Q(status=KycStatus.SUBMITTED, first_approved_by__isnull=False),
            ),
        )
        extra_context = {
            **(extra_context or {}),
            "title": f"KYC review queue: {counts['waiting']} waiting",
            "queue_counts": counts,
            "can_review": request.user.has_perm(REVIEW_PERMISSION),
        }
        return super().changelist_view(request, extra_context)

    # --- One case -------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = get_object_or_404(
            KycCase.objects.select_related(
                "profile__user", "claimed_by", "first_approved_by", "decided_by"
            ),
            pk=object_id,
        )
        if not self.has_view_permission(request, case):
            raise PermissionDenied
        if request.method == "POST":
            # No form edits a case: each decision is its own button and service.
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/kyc/kyccase/change_form.html",
            self._case_context(request, case),
        )

    def _case_context(self, request: HttpRequest, case: KycCase) -> dict:
        user = request.user
        profile = case.profile
        can_review = user.has_perm(REVIEW_PERMISSION) and user.is_staff
        own = profile.user_id == user.pk
        mine = case.status == KycStatus.IN_REVIEW and case.claimed_by_id == user.pk
        documents = list(kyc_case_documents(case=case))
        rejected_types = {d.doc_type for d in documents if d.status == "rejected"}
        id_number = profile.id_number_masked
        if mine and can_review and not own and profile.id_number_encrypted:
            id_number = crypto.decrypt(profile.id_number_encrypted)
        born = profile.date_of_birth
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"KYC case #{case.pk}: {case.legal_name}",
            "subtitle": case.profile.user.email,
            "case": case,
            "profile": profile,
            "snapshot": case.profile_snapshot,
            "id_number": id_number,
            "id_number_unmasked": id_number != profile.id_number_masked,
            "age": age_on(born, case.submitted_at.date()) if born else None,
            "country_name": country_name(case.country),
            "documents": documents,
            "events": kyc_case_events(case=case),
            "history": kyc_case_history(case=case),
            "duplicates": kyc_profiles_sharing_id_number(profile=profile),
            "can_review": can_review,
            "own_case": own,
            "claimed_by_me": mine,
            "can_claim": can_review
            and not own
            and case.status == KycStatus.SUBMITTED
            and case.first_approved_by_id != user.pk,
            "can_release": can_review
            and case.status == KycStatus.IN_REVIEW
            and (mine or user.is_superuser),
            "can_decide": can_review and mine and not own,
            "documents_locked": case.first_approved_by_id is not None,
            "all_accepted": bool(documents)
            and all(d.status == DocumentStatus.ACCEPTED for d in documents),
            "document_form": DocumentDecisionForm(),
            "approve_form": CaseApproveForm(),
            "reject_form": CaseRejectForm(),
            "release_form": CaseReleaseForm(),
            "resubmission_form": CaseResubmissionForm(
                initial={"document_types": sorted(rejected_types)}
            ),
            "approve_label": (
                "Give first approval (a second reviewer must confirm)"
                if case.needs_second_approval and not case.first_approved_by_id
                else "Give second approval"
                if case.needs_second_approval
                else "Approve"
            ),
        }
