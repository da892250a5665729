"""Role grant requests: one administrator asks (the add form), a different one
approves or rejects on the request's page; the requester may cancel. Every
step is a service call with its audit event and history row."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts import services
from accounts.admin.common import add_service_error
from accounts.models import RoleGrantRequest, RoleGrantRequestStatusChange, User
from accounts.services import RequestMeta
from accounts.services.roles import GRANT_PERMISSION, role_grant_request_check
from config.errors import ApplicationError


class RoleGrantRequestForm(forms.ModelForm):
    staff: User | None = None  # set per request by the admin's get_form

    class Meta:
        model = RoleGrantRequest
        fields = ("user", "role", "reason")

    def clean(self):
        data = super().clean()
        user, role = data.get("user"), data.get("role")
        if user is not None and role and self.staff is not None:
            try:
                role_grant_request_check(requested_by=self.staff, user=user, role=role)
            except ApplicationError as exc:
                add_service_error(self, exc)
        return data

    def _post_clean(self):
        # The request is created by the service in save_model.
        pass


class StatusChangeInline(admin.TabularInline):
    model = RoleGrantRequestStatusChange
    fields = ("created_at", "old_status", "new_status", "acting_user", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoleGrantRequest)
class RoleGrantRequestAdmin(admin.ModelAdmin):
    form = RoleGrantRequestForm
    change_form_template = "admin/accounts/rolegrantrequest/change_form.html"
    list_display = (
        "created_at",
        "user",
        "role",
        "status",
        "requested_by",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "role")
    search_fields = ("user__email", "requested_by__email")
    list_select_related = ("user", "requested_by", "decided_by")
    autocomplete_fields = ("user",)
    readonly_fields = (
        "user",
        "role",
        "reason",
        "status",
        "requested_by",
        "decided_by",
        "decided_at",
        "decision_note",
        "created_at",
    )
    inlines = (StatusChangeInline,)
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ("user", "role", "reason")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.staff = request.user
        return form

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm(
            GRANT_PERMISSION
        )

    def has_add_permission(self, request):
        return request.user.has_perm(GRANT_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = services.role_grant_request(
            requested_by=request.user,
            user=data["user"],
            role=data["role"],
            reason=data["reason"],
            meta=RequestMeta.from_request(request),
        )
        for field in RoleGrantRequest._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Nothing else to save: the service wrote the request and its history."""

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(
            request, "Request recorded: a different administrator must approve it."
        )
        return HttpResponseRedirect(
            reverse("admin:accounts_rolegrantrequest_change", args=[obj.pk])
        )

    # --- Decisions on the request's page ------------------------------------------

    def get_urls(self):
        def post(view):
            return self.admin_site.admin_view(require_POST(view))

        return [
            path(
                "<int:request_id>/approve/",
                post(self.approve_view),
                name="accounts_rolegrantrequest_approve",
            ),
            path(
                "<int:request_id>/reject/",
                post(self.reject_view),
                name="accounts_rolegrantrequest_reject",
            ),
            path(
                "<int:request_id>/cancel/",
                post(self.cancel_view),
                name="accounts_rolegrantrequest_cancel",
            ),
            *super().get_urls(),
        ]

    def _decide(self, request, request_id, run, success):
        if not request.user.has_perm(GRANT_PERMISSION):
            raise PermissionDenied
        grant = get_object_or_404(RoleGrantRequest, pk=request_id)
        try:
            run(
                request_id=grant.pk,
                note=request.POST.get("note", ""),
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, success)
        return HttpResponseRedirect(
            reverse("admin:accounts_rolegrantrequest_change", args=[grant.pk])
        )

    def approve_view(self, request, request_id):
        return self._decide(
            request,
            request_id,
            lambda **kw: services.role_grant_approve(approver=request.user, **kw),
            "Approved: the role is granted.",
        )

    def reject_view(self, request, request_id):
        return self._decide(
            request,
            request_id,
            lambda **kw: services.role_grant_reject(approver=request.user, **kw),
            "Request rejected.",
        )

    def cancel_view(self, request, request_id):
        return self._decide(
            request,
            request_id,
            lambda **kw: services.role_grant_cancel(staff=request.user, **kw),
            "Request cancelled.",
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        grant = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if grant is not None:
            staff = request.user
            waiting = grant.status == RoleGrantRequest.Status.REQUESTED
            may = staff.has_perm(GRANT_PERMISSION)
            mine = grant.requested_by_id == staff.pk
            context.update(
                grant=grant,
                can_approve=waiting and may and not mine and grant.user_id != staff.pk,
                can_reject=waiting and may and not mine,
                can_cancel=waiting and may and mine,
                own_request=waiting and mine,
            )
        return super().change_view(request, object_id, form_url, context)
