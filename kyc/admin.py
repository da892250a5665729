"""The KYC back office: a review queue and one screen per case. Every button posts
to a small admin view that calls one service; nothing here writes a model."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from accounts.admin import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from config.errors import ApplicationError
from kyc import crypto, services
from kyc.countries import country_name
from kyc.forms import (
    CaseApproveForm,
    CaseRejectForm,
    CaseReleaseForm,
    CaseResubmissionForm,
    DocumentDecisionForm,
)
from kyc.identity import age_on
from kyc.models import (
    DocumentStatus,
    KycCase,
    KycProfile,
    KycStatus,
    KycStatusEvent,
)
from kyc.selectors import (
    REVIEW_PERMISSION,
    kyc_case_documents,
    kyc_case_events,
    kyc_case_history,
    kyc_profiles_sharing_id_number,
)

_BADGE = {
    KycStatus.SUBMITTED: "#b26a00",
    KycStatus.IN_REVIEW: "#2f6fed",
    KycStatus.APPROVED: "#0f9d58",
    KycStatus.REJECTED: "#d93025",
    KycStatus.RESUBMISSION_REQUESTED: "#d93025",
}


class QueueFilter(admin.SimpleListFilter):
    """Defaults to the waiting cases (submitted + in review), not to "all"."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        statuses = [
            (s.value, s.label) for s in KycStatus if s != KycStatus.NOT_SUBMITTED
        ]
        return [
            ("waiting", "Waiting (submitted or in review)"),
            ("unclaimed", "Unclaimed"),
            ("mine", "Claimed by me"),
            ("second", "Awaiting second approval"),
            *statuses,
            ("all", "All cases"),
        ]

    def value(self):
        return super().value() or "waiting"

    def queryset(self, request, queryset):
        value = self.value()
        if value == "waiting":
            return queryset.filter(
                status__in=(KycStatus.SUBMITTED, KycStatus.IN_REVIEW)
            )
        if value == "unclaimed":
            return queryset.filter(status=KycStatus.SUBMITTED)
        if value == "mine":
            return queryset.filter(claimed_by=request.user)
        if value == "second":
            return queryset.filter(
                status__in=(KycStatus.SUBMITTED, KycStatus.IN_REVIEW),
                first_approved_by__isnull=False,
            )
        if value in KycStatus.values:
            return queryset.filter(status=value)
        return queryset

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup}
                ),
                "display": title,
            }


class CountryFilter(admin.SimpleListFilter):
    """Only the countries that have cases, by name."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = KycCase.objects.values_list("country", flat=True).distinct()
        return sorted(
            ((code, f"{country_name(code)} ({code})") for code in codes),
            key=lambda item: item[1],
        )

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(country=self.value())
        return queryset


@admin.register(KycCase)
class KycCaseAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user_email",
        "legal_name",
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

    # --- Buttons (POST only, one service each) ----------------------------------------

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


@admin.register(KycProfile)
class KycProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Profiles, read-only, identity numbers masked (the case screen unmasks them
    for the reviewer who claimed the case)."""

    list_display = ("user", "legal_name", "country", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("user__email", "legal_name")
    list_select_related = ("user",)
    fields = (
        "user",
        "status",
        "legal_name",
        "date_of_birth",
        "country",
        "address_line1",
        "address_line2",
        "city",
        "postal_code",
        "id_type",
        "id_number_masked",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="Identity number")
    def id_number_masked(self, profile):
        return profile.id_number_masked


@admin.register(KycStatusEvent)
class KycStatusEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only history: nobody adds, changes or deletes, not even a
    superuser."""

    list_display = (
        "created_at",
        "case",
        "action",
        "from_status",
        "to_status",
        "document",
        "actor",
        "reason_codes",
    )
    list_filter = ("action", "to_status")
    search_fields = ("case__profile__user__email", "case__legal_name", "actor__email")
    list_select_related = ("case", "document", "actor")
    date_hierarchy = "created_at"
