from django import template

from kyc.countries import country_name
from kyc.models import (
    CaseReason,
    DocumentReason,
    DocumentStatus,
    DocumentType,
    KycStatus,
)

register = template.Library()

_BADGES: dict[str, str] = {
    KycStatus.APPROVED: "ok",
    KycStatus.REJECTED: "bad",
    KycStatus.RESUBMISSION_REQUESTED: "bad",
    KycStatus.SUBMITTED: "warn",
    KycStatus.IN_REVIEW: "warn",
    DocumentStatus.ACCEPTED: "ok",
    DocumentStatus.REJECTED: "bad",
    DocumentStatus.SUPERSEDED: "bad",
    DocumentStatus.PENDING: "warn",
}


def _label(choices, value: str) -> str:
    return dict(choices).get(value, value)


@register.filter
def doc_type_label(value: str) -> str:
    return _label(DocumentType.choices, value)


@register.filter
def doc_reason_label(value: str) -> str:
    return _label(DocumentReason.choices, value)


@register.filter
def case_reason_label(value: str) -> str:
    return _label(CaseReason.choices, value)


@register.filter
def kyc_status_label(value: str) -> str:
    return _label(KycStatus.choices + DocumentStatus.choices, value)


@register.filter
def status_badge(value: str) -> str:
    return _BADGES.get(value, "")


@register.filter
def country_label(value: str) -> str:
    return f"{country_name(value)} ({value})" if value else ""


@register.filter
def doc_group_label(group) -> str:
    return " or ".join(doc_type_label(item) for item in group)


@register.filter
def field_label(value: str) -> str:
    return value.replace("_", " ").capitalize()
