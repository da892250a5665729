"""Consent to the legal documents in force (accounts/legal.py)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.errors import AccountsErrorCode as Code
from accounts.legal import documents_in_force, documents_to_accept
from accounts.models import AuditCode, ConsentRecord, LegalDocument, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Forbidden


def terms_not_accepted(user: User) -> ApplicationError:
    """What a sign-in answers while the user has documents to accept."""
    missing = documents_to_accept(user)
    return Forbidden(
        Code.TERMS_NOT_ACCEPTED,
        "accept_terms: the terms of service or the privacy notice changed; read "
        "them and sign in again with accept_terms set to true.",
        details={
            "accept_terms": ["Required."],
            "documents": [
                {"document": doc.document, "version": doc.version, "url": doc.url}
                for doc in missing
            ],
        },
    )


def consent_record(*, user: User, meta: RequestMeta | None) -> dict[str, str]:
    """Store the user's acceptance of every document in force they had not
    accepted yet; returns {document: version} of what was accepted."""
    missing = documents_to_accept(user)
    if not missing:
        return {}
    now = timezone.now()
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                user=user,
                document=doc.document,
                version=doc.version,
                ip_address=meta.ip_address if meta else None,
                user_agent=meta.user_agent if meta else "",
                created_at=now,
            )
            for doc in missing
        ]
    )
    versions = {doc.document: doc.version for doc in documents_in_force()}
    user.terms_version = versions[LegalDocument.TERMS]
    user.privacy_version = versions[LegalDocument.PRIVACY]
    User.objects.filter(pk=user.pk).update(
        terms_version=user.terms_version, privacy_version=user.privacy_version
    )
    return {doc.document: doc.version for doc in missing}


@transaction.atomic
def consent_accept(*, user: User, meta: RequestMeta | None) -> dict[str, str]:
    """A signed-in user accepts the versions that changed since they last did
    (audited as 123; a no-op when they are up to date)."""
    accepted = consent_record(user=user, meta=meta)
    if accepted:
        audit_event_record(
            code=AuditCode.TERMS_ACCEPTED,
            user=user,
            acting_user=user,
            meta=meta,
            extra={"accepted": accepted},
        )
    return accepted


def consent_required_at_sign_in(
    *, user: User, accept_terms: bool, meta: RequestMeta | None
) -> None:
    """A sign-in with documents to accept goes on only when the client says the
    user accepts them (`accept_terms`); otherwise it is refused, naming them."""
    if not documents_to_accept(user):
        return
    if not accept_terms:
        raise terms_not_accepted(user)
    consent_accept(user=user, meta=meta)
