"""Upload policy: what a KYC document may be, decided from its bytes.

1. Size: 1 byte to KYC_MAX_UPLOAD_BYTES.
2. Type: sniffed from the magic bytes only (JPEG FF D8 FF, PNG 89 50 4E 47 0D 0A 1A
   0A, PDF %PDF-); the client's file name and Content-Type are ignored. Anything else
   (SVG, HTML, scripts, archives, ...) is refused.
3. Images are decoded by Pillow (pixel count capped against decompression bombs),
   turned upright by their EXIF orientation and re-encoded to the same format from
   pixels only: EXIF (GPS, camera, ...), XMP, ICC, JPEG comment (COM) and APP
   segments and PNG text chunks are dropped, and any bytes appended to or hidden in
   the original are gone.
4. PDFs are rendered on the server (PDFium through pypdfium2, no JavaScript engine,
   no form layer): every page becomes a PNG image, at most KYC_MAX_PDF_PAGES pages
   and KYC_PDF_RENDER_LONG_SIDE pixels on a page's long side. Reviewers look at
   those images; the original PDF is kept byte for byte but only ever served as a
   download (kyc/files.py). A PDF that PDFium cannot open or render (damaged,
   encrypted, password-protected, no pages, too many pages) is refused.
   Before rendering, a cheap name scan refuses the obvious carriers of active or
   embedded content (/JavaScript, /JS, /Launch, /EmbeddedFile(s), /RichMedia,
   /XFA, /SubmitForm, /ImportData, /GoToR, /GoToE, /Encrypt; #xx escapes decoded;
   Flate object streams inflated once, bounded). It is an early refusal, not the
   defence: hostile PDFs get past it (a dictionary hidden between literal strings
   that look like stream keywords, nested Flate filters, an object-stream
   dictionary padded past the scan window), and that is why nothing relies on it.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import unicodedata
import warnings
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import cast

import pypdfium2 as pdfium
from django.conf import settings
from django.utils.text import get_valid_filename
from PIL import Image, ImageOps, UnidentifiedImageError

from config.domain_errors import ApplicationError
from kyc.errors import KycErrorCode as Code

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"

_PDF_FORBIDDEN = frozenset(
    {
        b"/JavaScript",
        b"/JS",
        b"/Launch",
        b"/EmbeddedFile",
        b"/EmbeddedFiles",
        b"/RichMedia",
        b"/XFA",
        b"/SubmitForm",
        b"/ImportData",
        b"/GoToR",
        b"/GoToE",
        b"/Encrypt",
    }
)
_PDF_FILTERS = frozenset(
    {
        b"/FlateDecode",
        b"/Fl",
        b"/LZWDecode",
        b"/ASCII85Decode",
        b"/ASCIIHexDecode",
        b"/RunLengthDecode",
        b"/Crypt",
    }
)
_PDF_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]+")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_INFLATE_LIMIT = 50 * 1024 * 1024  # total decoded bytes scanned per PDF


@dataclass(frozen=True)
class CleanFile:
    content: bytes
    content_type: str
    extension: str
    sha256: str
    width: int | None = None
    height: int | None = None
    # PDFs only: each page rendered to a PNG, in page order.
    pages: tuple[bytes, ...] = ()


def _refuse(message: str, code: str = Code.INVALID_FILE) -> ApplicationError:
    return ApplicationError(code, f"file: {message}", details={"file": [message]})


def read_limited(uploaded) -> bytes:
    """Read at most the limit + 1 bytes, so an oversized upload is never held."""
    limit = settings.KYC_MAX_UPLOAD_BYTES
    if getattr(uploaded, "size", None) is not None and uploaded.size > limit:
        raise _too_large(limit)
    uploaded.seek(0)
    data = uploaded.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return data


def check_request_size(content_length: str | int | None) -> None:
    """Refuse before parsing when the request body alone is over the limit (plus
    room for the multipart envelope), so nobody streams gigabytes to disk."""
    try:
        length = int(content_length or 0)
    except (TypeError, ValueError):
        return
    limit = settings.KYC_MAX_UPLOAD_BYTES
    if length > limit + 64 * 1024:
        raise _too_large(limit)


def _too_large(limit: int) -> ApplicationError:
    return _refuse(
        f"the file is larger than the limit of {limit // 1024} KiB.",
        Code.FILE_TOO_LARGE,
    )


def sniff(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(PDF_MAGIC):
        return "application/pdf"
    return None


def clean_upload(data: bytes) -> CleanFile:
    """Validate and sanitise a document's bytes, or raise an ApplicationError."""
    if not data:
        raise _refuse("the file is empty.", Code.EMPTY_FILE)
    if len(data) > settings.KYC_MAX_UPLOAD_BYTES:
        raise _too_large(settings.KYC_MAX_UPLOAD_BYTES)
    content_type = sniff(data)
    if content_type is None:
        raise _refuse(
            "only JPEG, PNG and PDF files are accepted (checked from the content).",
            Code.UNSUPPORTED_FILE_TYPE,
        )
    if content_type == "application/pdf":
        _check_pdf(data)
        pages = render_pdf_pages(data)
        return CleanFile(
            content=data,
            content_type=content_type,
            extension="pdf",
            sha256=hashlib.sha256(data).hexdigest(),
            pages=pages,
        )
    return _reencode_image(data, content_type)


def _reencode_image(data: bytes, content_type: str) -> CleanFile:
    expected = {"image/jpeg": "JPEG", "image/png": "PNG"}[content_type]
    max_pixels = settings.KYC_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != expected:
                    raise _refuse("the image content does not match its type.")
                width, height = probe.size
                if width * height > max_pixels or width < 1 or height < 1:
                    raise _refuse(
                        f"the image has too many pixels (limit {max_pixels})."
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except ApplicationError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise _refuse("the image is damaged or not a real image.") from exc

    out = io.BytesIO()
    if expected == "JPEG":
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        # Pixels only: Pillow writes an image's `info` back on save (the COM
        # comment among it), so the JPEG is saved from a fresh image with none.
        fresh = Image.new(upright.mode, upright.size)
        fresh.paste(upright)
        fresh.save(out, format="JPEG", quality=90, optimize=True)
        extension = "jpg"
    else:
        if upright.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
            upright = upright.convert("RGBA")
        # A fresh image carries no text chunks, EXIF or ICC profile.
        fresh = Image.new(upright.mode, upright.size)
        if upright.mode == "P":
            # an image in mode P always has a palette (Pillow types it Optional)
            fresh.putpalette(cast(list[int], upright.getpalette()))
        fresh.paste(upright)
        fresh.save(out, format="PNG", optimize=True)
        extension = "png"
    content = out.getvalue()
    return CleanFile(
        content=content,
        content_type=content_type,
        extension=extension,
        sha256=hashlib.sha256(content).hexdigest(),
        width=upright.width,
        height=upright.height,
    )


# PDFium is not thread-safe: one rendering at a time per process.
_PDFIUM_LOCK = threading.Lock()


def render_pdf_pages(data: bytes) -> tuple[bytes, ...]:
    """Every page of the PDF as PNG bytes, or a 400 `invalid_file` if PDFium cannot
    open or render it. No form layer is initialised and PDFium here has no
    JavaScript engine: the PDF is drawn, never run."""
    max_pages = settings.KYC_MAX_PDF_PAGES
    long_side = settings.KYC_PDF_RENDER_LONG_SIDE
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise _refuse("the PDF is encrypted; send it unprotected.") from exc
            raise _refuse("the PDF is damaged and cannot be opened.") from exc
        try:
            if pdfium.raw.FPDF_GetSecurityHandlerRevision(pdf.raw) != -1:
                raise _refuse("the PDF is encrypted; send it unprotected.")
            count = len(pdf)
            if count < 1:
                raise _refuse("the PDF has no pages.")
            if count > max_pages:
                raise _refuse(f"the PDF has {count} pages; at most {max_pages}.")
            return tuple(_render_page(pdf, index, long_side) for index in range(count))
        finally:
            pdf.close()


def _render_page(pdf, index: int, long_side: int) -> bytes:
    page = pdf[index]
    try:
        width, height = page.get_size()
        if not (width > 0 and height > 0):
            raise _refuse(f"page {index + 1} of the PDF has no size.")
        # The long side gets `long_side` pixels whatever the page claims to be,
        # so the pixel count is bounded by long_side squared.
        scale = long_side / max(width, height)
        if min(width, height) * scale < 1:
            raise _refuse(f"page {index + 1} of the PDF is too narrow to render.")
        try:
            bitmap = page.render(scale=scale, may_draw_forms=False)
            image = bitmap.to_pil()
        except pdfium.PdfiumError as exc:
            raise _refuse(f"page {index + 1} of the PDF cannot be rendered.") from exc
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        page.close()


def _decode_names(chunk: bytes) -> set[bytes]:
    """Every PDF name in `chunk`, #xx escapes decoded (names are case-sensitive)."""
    return {
        re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), raw)
        for raw in _PDF_NAME.findall(chunk)
    }


def _check_pdf(data: bytes) -> None:
    if not re.match(rb"%PDF-[12]\.[0-9]", data):
        raise _refuse("the PDF header is malformed.")
    if b"%%EOF" not in data[-1024:]:
        raise _refuse("the PDF is truncated (no %%EOF trailer).")
    # Dictionaries live outside streams, or inside object streams: scan both, and
    # leave page content and image data alone (no false alarms from binary bytes).
    chunks = [_PDF_STREAM.sub(b"stream endstream", data)]
    budget = _INFLATE_LIMIT
    for match in _PDF_STREAM.finditer(data):
        start = match.start()
        head_start = data.rfind(b"obj", max(0, start - 4096), start)
        head = data[max(head_start, start - 4096, 0) : start]
        if b"/ObjStm" not in head:
            continue
        filters = set(_decode_names(head)) & _PDF_FILTERS
        if filters != {b"/FlateDecode"}:
            raise _refuse("the PDF has an object stream that cannot be checked.")
        inflater = zlib.decompressobj()
        try:
            decoded = inflater.decompress(match.group(1), budget)
        except zlib.error as exc:
            raise _refuse("the PDF has a damaged compressed stream.") from exc
        if inflater.unconsumed_tail:
            raise _refuse("the PDF expands to too much data to be checked.")
        budget -= len(decoded)
        chunks.append(decoded)
    for chunk in chunks:
        found = _decode_names(chunk) & _PDF_FORBIDDEN
        if found:
            names = ", ".join(sorted(n.decode("latin-1") for n in found))
            raise _refuse(
                f"PDFs with active, embedded or encrypted content are refused "
                f"({names}).",
                Code.UNSAFE_FILE,
            )


def display_name(client_name: str | None) -> str:
    """The client's file name reduced to a harmless label (never used to store)."""
    name = (client_name or "").replace("\\", "/")
    name = PurePosixPath(name).name
    name = unicodedata.normalize("NFKC", name)
    name = "".join(ch for ch in name if ch.isprintable())
    try:
        name = get_valid_filename(name)
    except Exception:  # noqa: BLE001 - SuspiciousFileOperation for "..", "." and ""
        name = ""
    return name[-100:]
