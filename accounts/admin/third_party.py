"""Third-party admins, locked down. Each would otherwise be a way around the
four-eyes rules or into someone else's account:

- auth.Group: editing a group's permissions is granting power. Read-only here;
  what a role may do is `accounts/roles.py`, applied by migrations.
- OTP devices (TOTP, backup codes): adding a device to another user's account
  is taking it over. Unregistered; staff reset a second factor with the audited
  "Reset second factor" action on the user's page.
- JWT outstanding/blacklisted tokens: the outstanding list holds live refresh
  tokens (anyone who reads one can use it) and un-blacklisting revives one.
  Unregistered; "End sessions and tokens" on the user's page does the job.
- django-axes attempts and logs: read-only (support sees the failed logins
  by client address; the lockout itself is accounts/lockout.py's, and its
  wait ends by itself). Axes' own
  "Clean up expired attempts" action is off too: it deletes rows, unaudited;
  "Clear login lockout" on the user's page is the audited way.
"""

from __future__ import annotations

# Their registrations must exist before they are replaced, whatever the order of
# INSTALLED_APPS.
import axes.admin as axes_admin
import django.contrib.auth.admin  # noqa: F401
import django_otp.plugins.otp_static.admin  # noqa: F401
import django_otp.plugins.otp_totp.admin  # noqa: F401
import rest_framework_simplejwt.token_blacklist.admin  # noqa: F401
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.utils.html import format_html_join
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from accounts.admin.common import ReadOnlyAdminMixin

for model in (Group, TOTPDevice, StaticDevice, OutstandingToken, BlacklistedToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Group)
class RoleGroupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A role and what it may do, as `accounts/roles.py` says."""

    search_fields = ("name",)
    ordering = ("name",)
    list_display = ("name", "permission_count", "member_count")
    fields = ("name", "permission_list")
    readonly_fields = ("name", "permission_list")

    def get_queryset(self, request):
        from django.db.models import Count

        return (
            super()
            .get_queryset(request)
            .annotate(
                permission_total=Count("permissions", distinct=True),
                member_total=Count("user", distinct=True),
            )
        )

    @admin.display(description="Permissions", ordering="permission_total")
    def permission_count(self, obj):
        return obj.permission_total

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    @admin.display(description="Permissions")
    def permission_list(self, obj):
        permissions = obj.permissions.select_related("content_type").order_by(
            "content_type__app_label", "codename"
        )
        return (
            format_html_join(
                "",
                "<div><code>{}.{}</code> {}</div>",
                ((p.content_type.app_label, p.codename, p.name) for p in permissions),
            )
            or "-"
        )


for model, base in (
    (AccessAttempt, axes_admin.AccessAttemptAdmin),
    (AccessLog, axes_admin.AccessLogAdmin),
    (AccessFailureLog, axes_admin.AccessFailureLogAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(
        model,
        type(
            f"ReadOnly{base.__name__}",
            (ReadOnlyAdminMixin, base),
            {"actions": ()},  # no bulk writes (axes' cleanup deletes rows)
        ),
    )
