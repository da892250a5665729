"""Pieces shared by the accounts admins."""

from __future__ import annotations

from django import forms

from config.errors import ApplicationError


class ReadOnlyAdminMixin:
    """History admins: visible, never added, changed or deleted (not even by a
    superuser)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def add_service_error(form: forms.Form, exc: ApplicationError) -> None:
    """Show a service's refusal on the field it names (or on the form)."""
    for field in exc.details or {}:
        if field in form.fields:
            form.add_error(field, exc.message.split(": ", 1)[-1])
            return
    form.add_error(None, exc.message)
