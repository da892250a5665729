"""The legal documents in force and what a user still has to accept."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from accounts.models import LegalDocument, User


@dataclass(frozen=True)
class DocumentInForce:
    document: str
    title: str
    version: str

    @property
    def url(self) -> str:
        return reverse("accounts:legal-document", kwargs={"document": self.document})


def documents_in_force() -> list[DocumentInForce]:
    return [
        DocumentInForce(
            LegalDocument.TERMS, LegalDocument.TERMS.label, settings.LEGAL_TERMS_VERSION
        ),
        DocumentInForce(
            LegalDocument.PRIVACY,
            LegalDocument.PRIVACY.label,
            settings.LEGAL_PRIVACY_VERSION,
        ),
    ]


def accepted_version(user: User, document: str) -> str:
    return (
        user.terms_version if document == LegalDocument.TERMS else user.privacy_version
    )


def documents_to_accept(user: User) -> list[DocumentInForce]:
    """The documents whose version in force this user has not accepted yet."""
    return [
        doc
        for doc in documents_in_force()
        if accepted_version(user, doc.document) != doc.version
    ]
