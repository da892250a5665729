"""Users in the back office. Staff correct a profile (name, email, phone: each
change through a service, with a reason, audited) and use the buttons on the
user's page: lock/unlock, end sessions and tokens, send a password reset link,
reset the second factor, revoke a role, ask for one. No form here edits a
password, the staff or superuser flag, groups or permissions; there is no "add
user" (people sign up themselves; staff are users who then get a role through
four eyes)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts import services
from accounts.admin.common import add_service_error
from accounts.models import User
from accounts.roles import BACK_OFFICE_ROLES
from accounts.selectors import user_failed_login_count, user_has_two_factor
from accounts.services import RequestMeta
from accounts.services._staff_common import staff_may_act_on
from accounts.services.recovery import SEND_PASSWORD_RESET_PERMISSION
from accounts.services.roles import GRANT_PERMISSION
from accounts.services.staff import (
    CHANGE_PROFILE_PERMISSION,
    CLEAR_LOCKOUT_PERMISSION,
    END_SESSIONS_PERMISSION,
    LOCK_PERMISSION,
    RESET_SECOND_FACTOR_PERMISSION,
    user_contact_check,
)
from config.errors import ApplicationError

PROFILE_FIELDS = ("email", "full_name", "phone")


class UserProfileForm(forms.ModelForm):
    """Name, email and phone, plus why they change (for the audit trail)."""

    reason = forms.CharField(
        max_length=255,
        required=False,
        help_text="Why you change this profile; required for any change. A new "
        "email or phone ends the user's sessions and holds their withdrawals for "
        "the cool-off.",
    )
    staff: User | None = None  # set per request by UserAdmin.get_form

    class Meta:
        model = User
        fields = PROFILE_FIELDS

    def clean_email(self):
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()

    def clean(self):
        data = super().clean()
        changed = [name for name in PROFILE_FIELDS if name in self.changed_data]
        if not changed:
            return data
        if self.staff is not None:
            if self.staff.pk == self.instance.pk:
                self.add_error(
                    None, "Change your own profile on your security page, not here."
                )
                return data
            try:
                staff_may_act_on(staff=self.staff, user=self.instance)
            except ApplicationError as exc:
                self.add_error(None, exc.message)
                return data
        if not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why you change this profile.")
        try:
            user_contact_check(
                user=self.instance,
                email=data.get("email") if "email" in changed else None,
                phone=data.get("phone") if "phone" in changed else None,
            )
        except ApplicationError as exc:
            add_service_error(self, exc)
        return data

    def _post_clean(self):
        # The instance is written by the service in save_model, from
        # cleaned_data; Django's model validation would also re-check the email
        # constraint, which user_contact_check already did.
        pass


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserProfileForm
    change_form_template = "admin/accounts/user/change_form.html"
    ordering = ("-date_joined",)
    list_display = ("email", "full_name", "status", "is_staff", "roles", "date_joined")
    list_filter = ("status", "is_staff", "groups")
    search_fields = ("email", "full_name", "phone")
    readonly_fields = (
        "status",
        "token_version",
        "two_factor",
        "roles",
        "is_staff",
        "is_superuser",
        "date_joined",
        "last_login",
    )
    fieldsets = (
        ("Profile", {"fields": ("email", "full_name", "phone", "reason")}),
        ("State", {"fields": ("status", "two_factor", "token_version")}),
        ("Roles", {"fields": ("roles", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_fieldsets(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.fieldsets
        # view-only: no "reason" box to fill in
        profile = ("Profile", {"fields": PROFILE_FIELDS})
        return (profile, *self.fieldsets[1:])

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.staff = request.user
        return form

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Roles")
    def roles(self, obj):
        return ", ".join(sorted(g.name for g in obj.groups.all())) or "-"

    @admin.display(description="Second factor", boolean=True)
    def two_factor(self, obj):
        return user_has_two_factor(user=obj)

    # --- Writes go through the service --------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        changed = {
            name: data[name] for name in PROFILE_FIELDS if name in form.changed_data
        }
        if not changed:
            return
        services.user_profile_update_by_staff(
            user=obj,
            staff=request.user,
            reason=data["reason"],
            site_url=request.build_absolute_uri("/").rstrip("/"),
            meta=RequestMeta.from_request(request),
            **changed,
        )

    def save_related(self, request, form, formsets, change):
        """The form has no relations (groups change only through roles)."""

    # --- The user's page: staff actions -------------------------------------------

    def get_urls(self):
        def post(view):
            return self.admin_site.admin_view(require_POST(view))

        return [
            # Django's UserAdmin sets passwords here; staff never do.
            path("<path:object_id>/password/", self.password_view),
            path(
                "<int:user_id>/lock/", post(self.lock_view), name="accounts_user_lock"
            ),
            path(
                "<int:user_id>/unlock/",
                post(self.unlock_view),
                name="accounts_user_unlock",
            ),
            path(
                "<int:user_id>/end-sessions/",
                post(self.end_sessions_view),
                name="accounts_user_end_sessions",
            ),
            path(
                "<int:user_id>/clear-lockout/",
                post(self.clear_lockout_view),
                name="accounts_user_clear_lockout",
            ),
            path(
                "<int:user_id>/reset-second-factor/",
                post(self.reset_second_factor_view),
                name="accounts_user_reset_second_factor",
            ),
            path(
                "<int:user_id>/send-password-reset/",
                post(self.send_password_reset_view),
                name="accounts_user_send_password_reset",
            ),
            path(
                "<int:user_id>/roles/<str:role>/revoke/",
                post(self.revoke_role_view),
                name="accounts_user_revoke_role",
            ),
            *super().get_urls(),
        ]

    def password_view(self, request, object_id):
        raise Http404("Staff do not set passwords.")

    def _act(self, request, user_id, perm, service, success, **kwargs):
        if not request.user.has_perm(perm):
            raise PermissionDenied
        user = get_object_or_404(User, pk=user_id)
        try:
            service(
                user=user,
                staff=request.user,
                reason=request.POST.get("reason", ""),
                meta=RequestMeta.from_request(request),
                **kwargs,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, success)
        return HttpResponseRedirect(
            reverse("admin:accounts_user_change", args=[user.pk])
        )

    def lock_view(self, request, user_id):
        return self._act(
            request,
            user_id,
            LOCK_PERMISSION,
            services.user_lock,
            "Account locked: every session and token of the user ended.",
        )

    def unlock_view(self, request, user_id):
        return self._act(
            request,
            user_id,
            LOCK_PERMISSION,
            services.user_unlock,
            "Account unlocked; withdrawals wait out the cool-off.",
        )

    def end_sessions_view(self, request, user_id):
        return self._act(
            request,
            user_id,
            END_SESSIONS_PERMISSION,
            services.user_sessions_end,
            "Every session and token of the user ended.",
        )

    def clear_lockout_view(self, request, user_id):
        return self._act(
            request,
            user_id,
            CLEAR_LOCKOUT_PERMISSION,
            services.user_login_lockout_clear,
            "Failed logins forgotten: the user may sign in again.",
        )

    def reset_second_factor_view(self, request, user_id):
        return self._act(
            request,
            user_id,
            RESET_SECOND_FACTOR_PERMISSION,
            services.user_second_factor_reset_start,
            "Second-factor reset started: a KYC re-check case is waiting for a "
            "reviewer; its approval removes the user's factors.",
        )

    def send_password_reset_view(self, request, user_id):
        return self._act(
            request,
            user_id,
            SEND_PASSWORD_RESET_PERMISSION,
            services.user_password_reset_send,
            "Password reset link sent to the user's email address; their "
            "withdrawals wait out the cool-off.",
            site_url=request.build_absolute_uri("/").rstrip("/"),
        )

    def revoke_role_view(self, request, user_id, role):
        return self._act(
            request,
            user_id,
            GRANT_PERMISSION,
            services.user_role_revoke,
            f"Role {role} revoked.",
            role=role,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if user is not None:
            staff = request.user
            try:
                staff_may_act_on(staff=staff, user=user)
            except ApplicationError as exc:
                refusal = exc.message
            else:
                refusal = ""
            refused = bool(refusal)
            held = {g.name for g in user.groups.all()}
            context.update(
                staff_refusal=refusal,
                can_lock=not refused and staff.has_perm(LOCK_PERMISSION),
                can_end_sessions=not refused
                and staff.has_perm(END_SESSIONS_PERMISSION),
                can_clear_lockout=not refused
                and staff.has_perm(CLEAR_LOCKOUT_PERMISSION),
                failed_logins=user_failed_login_count(user=user),
                can_reset_second_factor=not refused
                and staff.has_perm(RESET_SECOND_FACTOR_PERMISSION),
                can_grant=not refused and staff.has_perm(GRANT_PERMISSION),
                can_send_password_reset=not refused
                and staff.has_perm(SEND_PASSWORD_RESET_PERMISSION),
                can_change_profile=not refused
                and staff.has_perm(CHANGE_PROFILE_PERMISSION),
                back_office_roles=[
                    {"name": role.value, "held": role.value in held}
                    for role in BACK_OFFICE_ROLES
                ],
                user_locked=user.status == User.Status.SUSPENDED,
                user_has_second_factor=user_has_two_factor(user=user),
                request_role_url=reverse("admin:accounts_rolegrantrequest_add")
                + f"?user={user.pk}",
            )
        return super().change_view(request, object_id, form_url, context)
