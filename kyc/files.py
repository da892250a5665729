"""Streaming a KYC document to an allowed viewer: the only way its bytes leave the
private storage."""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse

from kyc.models import KycDocument


def document_file_response(document: KycDocument) -> FileResponse:
    handle = storages["kyc"].open(document.storage_name, "rb")
    response = FileResponse(handle, content_type=document.content_type)
    response["Content-Length"] = str(document.size)
    response["Content-Disposition"] = (
        f'inline; filename="document-{document.pk}.{document.extension}"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    if document.is_image:
        # Nothing in an image response may run, even when opened on its own.
        response["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
        )
    return response
