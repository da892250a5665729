"""Queue filters: the default view is the waiting cases, not "all"."""

from __future__ import annotations

from django.contrib import admin

from kyc.models import KycStatus
from kyc.selectors import kyc_case_countries


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
        return kyc_case_countries()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(country=self.value())
        return queryset
