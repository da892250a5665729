"""Back office for users and the audit trail: history is read-only everywhere."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserCreationForm

from accounts import services
from accounts.models import AuditEvent, IdempotencyKey, User


class ReadOnlyAdminMixin:
    """History admins: visible, never added, changed or deleted (not even by a
    superuser)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AdminUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = AdminUserCreationForm
    ordering = ("-date_joined",)
    list_display = ("email", "full_name", "status", "is_staff", "date_joined")
    list_filter = ("status", "is_staff", "groups")
    search_fields = ("email", "full_name", "phone")
    readonly_fields = ("status", "date_joined", "last_login", "token_version")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "phone")}),
        ("State", {"fields": ("status", "token_version")}),
        (
            "Roles",
            {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "password1", "password2"),
            },
        ),
    )
    actions = ("suspend_users", "reactivate_users")

    @admin.action(description="Suspend selected users", permissions=["change"])
    def suspend_users(self, request, queryset):
        self._set_status(request, queryset, User.Status.SUSPENDED)

    @admin.action(description="Reactivate selected users", permissions=["change"])
    def reactivate_users(self, request, queryset):
        self._set_status(request, queryset, User.Status.ACTIVE)

    def _set_status(self, request, queryset, status):
        changed = 0
        for user in queryset:
            if user.pk == request.user.pk:
                messages.error(request, "You cannot change your own status.")
                continue
            services.user_set_status(user=user, status=status, acting_user=request.user)
            changed += 1
        messages.success(request, f"{changed} user(s) now {status}.")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "code", "event", "user", "acting_user", "ip_address")
    list_filter = ("code",)
    search_fields = ("user__email", "acting_user__email", "target_id")
    list_select_related = ("user", "acting_user")
    date_hierarchy = "created_at"

    @admin.display(description="Event")
    def event(self, obj):
        return obj.get_code_display()


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "scope", "key", "response_status")
    search_fields = ("user__email", "key")
    list_select_related = ("user",)
