"""KYC PDFs: rendered to page images at upload, never trusted to a pattern filter.

Three hostile PDFs, written here byte by byte, each carry a JavaScript OpenAction
past the name scan (between literal strings, inside nested FlateDecode, inside a
padded object-stream dictionary). They render, so they are accepted: reviewers look
at PNG page images and the original only ever comes back as an attachment."""

import io
import zlib

import pytest
from django.core.files.storage import storages
from PIL import Image

from accounts.testing import admin_client_for, api_client_for, make_user
from config.errors import ApplicationError
from kyc import services, uploads
from kyc.models import KycDocument
from kyc.tests.helpers import fill_profile, jpeg_bytes, make_reviewer, upload_file

pytestmark = pytest.mark.django_db
URL = "/api/v1/kyc/documents"
JS = b"app.alert\\(document.cookie\\)"
ACTION = b"<< /S /JavaScript /JS (" + JS + b") >>"
# A page 200 x 100 points, filled blue: the rendered image must show it.
CONTENT = b"0 0 1 rg 0 0 200 100 re f"
PAGE_OBJECTS = {
    2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
    4: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(CONTENT), CONTENT),
}


def _classic_pdf(objects: dict[int, bytes]) -> bytes:
    """A PDF 1.4 file with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        xref,
    )
    return bytes(out)


def _objstm_pdf(objstm_dict: bytes, encoded: bytes) -> bytes:
    """A PDF 1.7 file whose object 5 (the JavaScript action) lives in object
    stream 6, indexed by a cross-reference stream (object 7)."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
        **PAGE_OBJECTS,
        6: objstm_dict % len(encoded) + b"\nstream\n" + encoded + b"\nendstream",
    }
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    offsets[7] = len(out)
    rows = [b"\x00\x00\x00\x00\x00\xff\xff"]  # object 0: free
    for number in range(1, 8):
        if number == 5:  # compressed: in stream 6, index 0
            rows.append(b"\x02" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big"))
        else:
            rows.append(b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00\x00")
    table = b"".join(rows)
    out += (
        b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length %d >>\n"
        b"stream\n%s\nendstream\nendobj\n" % (len(table), table)
    )
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[7]
    return bytes(out)


def _objstm_body() -> tuple[bytes, int]:
    header = b"5 0 "
    return header + ACTION, len(header)


def js_between_literal_strings() -> bytes:
    # The name scan blanked "stream ... endstream" before looking for names; two
    # literal strings that contain those words hide the action between them.
    catalog = (
        b"<< /Type /Catalog /Pages 2 0 R /Lang (stream\n) /OpenAction "
        + ACTION
        + b" /PageLabels (endstream) >>"
    )
    return _classic_pdf({1: catalog, **PAGE_OBJECTS})


def js_in_nested_flate() -> bytes:
    # The scan inflated an object stream once; compressed twice, the action stays
    # hidden.
    body, first = _objstm_body()
    encoded = zlib.compress(zlib.compress(body))
    dictionary = (
        b"<< /Type /ObjStm /N 1 /First %d " % first
        + b"/Filter [/FlateDecode /FlateDecode] /Length %d >>"
    )
    return _objstm_pdf(dictionary, encoded)


def js_in_padded_objstm() -> bytes:
    # The scan looked for /ObjStm within 4 KiB before "stream": padding pushes the
    # dictionary's /Type out of that window, so the stream was never inflated.
    body, first = _objstm_body()
    dictionary = (
        b"<< /Type /ObjStm /N 1 /First %d" % first
        + b" " * 5000
        + b"/Filter /FlateDecode /Length %d >>"
    )
    return _objstm_pdf(dictionary, zlib.compress(body))


def pillow_pdf(pages: int = 1) -> bytes:
    images = [Image.new("RGB", (300, 200), (0, 0, 255)) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


HOSTILE = {
    "between_literal_strings": js_between_literal_strings,
    "nested_flate": js_in_nested_flate,
    "padded_objstm": js_in_padded_objstm,
}


@pytest.fixture
def owner():
    return make_user(email="owner@example.com")


@pytest.fixture
def client(owner):
    return api_client_for(owner)


def post_pdf(client, content: bytes):
    return client.post(
        URL,
        {
            "doc_type": "proof_of_address",
            "file": upload_file("bill.pdf", content, "application/pdf"),
        },
        format="multipart",
    )


def decoded(image_bytes: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(image_bytes))
    image.load()
    return image


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_pdfs_get_past_the_name_scan(make):
    # given a PDF that carries a JavaScript OpenAction
    content = make()
    # when only the pattern filter looks at it, then it finds nothing: this is why
    # no decision rests on it
    assert uploads._check_pdf(content) is None


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_pdf_is_stored_with_rendered_pages_and_served_as_attachment(
    client, make
):
    # given a hostile PDF that renders; when its owner uploads it
    content = make()
    response = post_pdf(client, content)
    # then it is accepted with one page rendered beside the original
    assert response.status_code == 201, response.content
    doc = KycDocument.objects.get()
    body = response.json()
    assert body["page_count"] == 1
    assert body["page_urls"] == [f"/api/v1/kyc/documents/{doc.pk}/file?page=1"]
    assert doc.page_name(1) == doc.storage_name[: -len(".pdf")] + ".page-1.png"
    kyc = storages["kyc"]
    assert kyc.open(doc.storage_name).read() == content
    # the page image is the blue page, 1600 pixels on its long side, and nothing else
    page = client.get(body["page_urls"][0])
    assert page.status_code == 200
    assert page["Content-Type"] == "image/png"
    assert page["Content-Disposition"] == (
        f'inline; filename="document-{doc.pk}-page-1.png"'
    )
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Content-Security-Policy"] == (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    )
    png = b"".join(page.streaming_content)
    assert png == kyc.open(doc.page_name(1)).read()
    image = decoded(png)
    assert (image.format, image.size, image.mode) == ("PNG", (1600, 800), "RGB")
    assert image.getpixel((800, 400)) == (0, 0, 255)
    assert b"JavaScript" not in png
    # and the original comes back only as a download
    original = client.get(body["file_url"])
    assert original.status_code == 200
    assert original["Content-Type"] == "application/pdf"
    assert original["Content-Disposition"] == (
        f'attachment; filename="document-{doc.pk}.pdf"'
    )
    assert original["X-Content-Type-Options"] == "nosniff"
    assert original["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert original["Cache-Control"] == "private, no-store"
    assert b"".join(original.streaming_content) == content


def test_benign_pdf_from_pillow_renders_every_page(client):
    # given a three-page PDF made by a library
    content = pillow_pdf(pages=3)
    # when it is uploaded, then three page images are stored and served
    response = post_pdf(client, content)
    assert response.status_code == 201, response.content
    doc = KycDocument.objects.get()
    assert doc.page_count == 3
    assert response.json()["page_urls"] == [
        f"/api/v1/kyc/documents/{doc.pk}/file?page={n}" for n in (1, 2, 3)
    ]
    for n in (1, 2, 3):
        image = decoded(b"".join(client.get(f"{URL}/{doc.pk}/file?page={n}")))
        assert image.size == (1600, 1067)
        red, green, blue = image.getpixel((800, 500))  # JPEG inside: near blue
        assert red < 8 and green < 8 and blue > 247


@pytest.mark.parametrize("page", ["0", "2", "-1", "abc", "\u0661", ""])
def test_a_page_the_pdf_does_not_have_is_404(client, page):
    # given a one-page PDF; when another page is asked for, then 404 in the shape
    post_pdf(client, pillow_pdf())
    doc = KycDocument.objects.get()
    response = client.get(f"{URL}/{doc.pk}/file", {"page": page})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "document_not_found",
            "message": "page: no such page.",
            "details": {},
        }
    }


def test_an_image_has_no_pages(client):
    # given a JPEG document; when page 1 is asked for, then 404
    response = client.post(
        URL,
        {"doc_type": "selfie", "file": upload_file("me.jpg", jpeg_bytes())},
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json()["page_count"] == 0
    assert response.json()["page_urls"] == []
    doc = KycDocument.objects.get()
    assert client.get(f"{URL}/{doc.pk}/file", {"page": "1"}).status_code == 404


def test_a_pdf_that_does_not_render_is_refused(client):
    # given bytes with a PDF header and trailer but nothing PDFium can open
    content = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage ][ \n%%EOF\n"
    # when uploaded, then 400 with a clear message and nothing stored
    response = post_pdf(client, content)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_file",
            "message": "file: the PDF is damaged and cannot be opened.",
            "details": {"file": ["the PDF is damaged and cannot be opened."]},
        }
    }
    assert not KycDocument.objects.exists()


def test_a_pdf_with_no_pages_is_refused(client):
    content = _classic_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [] /Count 0 >>",
        }
    )
    # PDFium refuses to open a document without pages
    response = post_pdf(client, content)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "file: the PDF is damaged and cannot be opened."
    )
    assert not KycDocument.objects.exists()


def test_a_pdf_with_too_many_pages_is_refused(client, settings):
    settings.KYC_MAX_PDF_PAGES = 2
    response = post_pdf(client, pillow_pdf(pages=3))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_file",
        "message": "file: the PDF has 3 pages; at most 2.",
        "details": {"file": ["the PDF has 3 pages; at most 2."]},
    }
    assert not KycDocument.objects.exists()


def test_an_encrypted_pdf_does_not_render():
    # given a PDF protected by a password nobody sent (standard handler, R2)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        **PAGE_OBJECTS,
        5: b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <%s> /U <%s> >>"
        % (b"11" * 32, b"22" * 32),
    }
    content = _classic_pdf(objects).replace(
        b"/Root 1 0 R >>",
        b"/Root 1 0 R /Encrypt 5 0 R /ID [<%s><%s>] >>" % (b"ab" * 16, b"ab" * 16),
    )
    # when it is rendered, then it is refused as encrypted
    with pytest.raises(ApplicationError) as info:
        uploads.render_pdf_pages(content)
    assert info.value.code == "invalid_file"
    assert info.value.message == "file: the PDF is encrypted; send it unprotected."


def test_page_images_are_deleted_with_their_draft(
    owner, django_capture_on_commit_callbacks
):
    # given a draft PDF with two rendered pages
    fill_profile(owner)
    doc = services.kyc_document_upload(
        user=owner,
        doc_type="proof_of_address",
        uploaded=upload_file("bill.pdf", pillow_pdf(pages=2), "application/pdf"),
    )
    names = [doc.storage_name, doc.page_name(1), doc.page_name(2)]
    assert all(storages["kyc"].exists(name) for name in names)
    # when the owner deletes it, then the original and both pages are gone
    with django_capture_on_commit_callbacks(execute=True):
        services.kyc_document_delete(user=owner, document_id=doc.pk)
    assert not any(storages["kyc"].exists(name) for name in names)


def test_reviewer_sees_page_images_and_the_original_only_as_a_download(owner):
    # given a submitted case whose proof of address is a hostile PDF
    fill_profile(owner)
    for doc_type, name, content in (
        ("pan_card", "pan.jpg", jpeg_bytes()),
        ("proof_of_address", "bill.pdf", js_in_nested_flate()),
        ("selfie", "me.jpg", jpeg_bytes()),
    ):
        services.kyc_document_upload(
            user=owner, doc_type=doc_type, uploaded=upload_file(name, content)
        )
    case = services.kyc_submit(user=owner)
    pdf = case.documents.get(doc_type="proof_of_address")
    reviewer = admin_client_for(make_reviewer(email="rita@example.com"))
    # when the reviewer opens the case, then the page is an image from the
    # protected document view, and the PDF itself is a download link
    page = reviewer.get(f"/admin/kyc/kyccase/{case.pk}/change/").content.decode()
    file_url = f"/kyc/documents/{pdf.pk}/file/"
    assert (
        f'<img class="kyc-page" src="{file_url}?page=1" '
        f'alt="Proof of address #{pdf.pk}, page 1 of 1" loading="lazy">'
    ) in page
    assert f'<a class="pdf" href="{file_url}" download>' in page
    image = reviewer.get(file_url, {"page": "1"})
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"].startswith("inline;")
    assert decoded(b"".join(image.streaming_content)).size == (1600, 800)
    original = reviewer.get(file_url)
    assert original.status_code == 200
    assert original["Content-Disposition"] == (
        f'attachment; filename="document-{pdf.pk}.pdf"'
    )
    assert original["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert original["X-Content-Type-Options"] == "nosniff"
    # and a stranger gets neither
    stranger = api_client_for(make_user())
    assert stranger.get(f"{URL}/{pdf.pk}/file", {"page": "1"}).status_code == 404
