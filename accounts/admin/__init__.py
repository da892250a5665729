"""The accounts back office: users and the staff actions on them, roles and
their four-eyes grants, the audit trail, and the lock-down of third-party
admins (groups, OTP devices, JWTs, lockouts) that would otherwise let staff
grant power or take an account over."""

from accounts.admin import history, roles, third_party, users
from accounts.admin.common import ReadOnlyAdminMixin

__all__ = ["ReadOnlyAdminMixin", "history", "roles", "third_party", "users"]
