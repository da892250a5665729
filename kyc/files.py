"""Streaming a KYC document to an allowed viewer: the only way its bytes leave the
private storage.

- Images (re-encoded at upload) are served inline, under a CSP that lets nothing
  run.
- A PDF's original is only ever a download: `Content-Disposition: attachment`,
  `nosniff`, and a CSP with `sandbox` and nothing allowed, so even a browser that
  ignored the disposition would not run it. People look at its pages through the
  PNG images rendered at upload (`?page=N`).
"""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse

from kyc.models import KycDocument

_IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_ATTACHMENT_CSP = "default-src 'none'; sandbox"


def _private_headers(response: FileResponse) -> FileResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def document_file_response(document: KycDocument) -> FileResponse:
    """The stored file: an image inline, anything else (PDF) as an attachment."""
    handle = storages["kyc"].open(document.storage_name, "rb")
    filename = f"document-{document.pk}.{document.extension}"
    if document.is_image:
        response = FileResponse(handle, content_type=document.content_type)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        response["Content-Security-Policy"] = _IMAGE_CSP
    else:
        response = FileResponse(handle, content_type=document.content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Content-Security-Policy"] = _ATTACHMENT_CSP
    response["Content-Length"] = str(document.size)
    return _private_headers(response)


def document_page_response(document: KycDocument, number: int) -> FileResponse:
    """Page `number` (from 1) of a PDF, as the PNG rendered at upload; the caller
    checked that the page exists (`number in document.page_numbers`)."""
    handle = storages["kyc"].open(document.page_name(number), "rb")
    response = FileResponse(handle, content_type="image/png")
    response["Content-Disposition"] = (
        f'inline; filename="document-{document.pk}-page-{number}.png"'
    )
    response["Content-Security-Policy"] = _IMAGE_CSP
    return _private_headers(response)


def document_response(document: KycDocument, page: str | None) -> FileResponse | None:
    """The document (no `page`) or one of its rendered pages; None when `page` is
    not a page this document has (the caller answers 404)."""
    if page is None:
        return document_file_response(document)
    if (
        not page.isascii()
        or not page.isdigit()
        or int(page) not in (document.page_numbers)
    ):
        return None
    return document_page_response(document, int(page))
