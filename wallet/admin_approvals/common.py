"""Shared by the withdrawal and adjustment admins: money display, form errors as
one message, and the queue filter that opens on what waits."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models

from wallet.money import format_units


def money(obj, field: str = "amount") -> str:
    return format_units(getattr(obj, field), obj.asset.decimals)


def form_problems(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()
    )


class QueueFilter(admin.SimpleListFilter):
    """Opens on what waits for an operator, not on "all"."""

    title = "queue"
    parameter_name = "queue"
    default = "pending"
    queues: dict[str, tuple[str, tuple[str, ...]]] = {}
    statuses: type[models.TextChoices]  # the model's Status choices

    def lookups(self, request, model_admin):
        return [
            *((key, label) for key, (label, _) in self.queues.items()),
            *((s.value, s.label) for s in self.statuses),
            ("all", "All"),
        ]

    def value(self):
        return super().value() or self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value in self.queues:
            return queryset.filter(status__in=self.queues[value][1])
        if value in self.statuses.values:
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
