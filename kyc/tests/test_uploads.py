"""Hostile uploads through the API: the bytes decide, never the name or header."""

import io
import zlib

import pytest
from django.core.files.storage import storages
from PIL import Image

from accounts.testing import api_client_for, make_user
from kyc.models import KycDocument
from kyc.tests.helpers import jpeg_bytes, pdf_bytes, png_bytes, upload_file

pytestmark = pytest.mark.django_db
URL = "/api/v1/kyc/documents"


def post(client, name, content, content_type="image/jpeg", doc_type="selfie"):
    return client.post(
        URL,
        {"doc_type": doc_type, "file": upload_file(name, content, content_type)},
        format="multipart",
    )


@pytest.fixture
def client():
    return api_client_for(make_user())


def assert_refused(response, code):
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not KycDocument.objects.exists()


def test_php_script_named_jpg_is_refused(client):
    php = b"<?php system($_GET['cmd']); ?>"
    assert_refused(post(client, "avatar.jpg", php), "unsupported_file_type")


def test_php_behind_a_jpeg_magic_number_is_refused(client):
    fake = b"\xff\xd8\xff\xe0" + b"<?php system($_GET['cmd']); ?>" * 10
    assert_refused(post(client, "x.jpg", fake), "invalid_file")


def test_html_file_is_refused(client):
    html = b"<!doctype html><script>alert(document.cookie)</script>"
    assert_refused(post(client, "id.png", html, "image/png"), "unsupported_file_type")


def test_svg_is_refused(client):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    assert_refused(
        post(client, "id.svg", svg, "image/svg+xml"), "unsupported_file_type"
    )


def test_pdf_with_wrong_magic_is_refused(client):
    content = b"%PFD-1.4\n" + pdf_bytes()[9:]
    assert_refused(
        post(client, "bill.pdf", content, "application/pdf", "proof_of_address"),
        "unsupported_file_type",
    )


def test_truncated_pdf_is_refused(client):
    assert_refused(
        post(
            client, "bill.pdf", pdf_bytes()[:-7], "application/pdf", "proof_of_address"
        ),
        "invalid_file",
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"4 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n",
        b"4 0 obj << /S /J#61vaScript /J#53 (app.alert(1)) >> endobj\n",
        b"4 0 obj << /S /Launch /F (cmd.exe) >> endobj\n",
        b"4 0 obj << /Type /EmbeddedFile >> endobj\n",
        b"trailer << /Encrypt 9 0 R >>\n",
    ],
)
def test_pdf_with_active_or_embedded_content_is_refused(client, payload):
    assert_refused(
        post(
            client,
            "bill.pdf",
            pdf_bytes(payload),
            "application/pdf",
            "proof_of_address",
        ),
        "unsafe_file",
    )


def test_pdf_hiding_javascript_in_a_compressed_object_stream_is_refused(client):
    hidden = zlib.compress(b"5 0 << /S /JavaScript /JS (app.alert(1)) >>")
    payload = (
        b"6 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
        + str(len(hidden)).encode()
        + b" >>\nstream\n"
        + hidden
        + b"\nendstream\nendobj\n"
    )
    assert_refused(
        post(
            client,
            "bill.pdf",
            pdf_bytes(payload),
            "application/pdf",
            "proof_of_address",
        ),
        "unsafe_file",
    )


def test_file_over_the_limit_is_refused(client, settings):
    settings.KYC_MAX_UPLOAD_BYTES = 1024
    assert_refused(post(client, "big.png", png_bytes((400, 400))), "file_too_large")


def test_empty_file_is_refused(client):
    assert_refused(post(client, "empty.jpg", b""), "empty_file")


def test_decompression_bomb_is_refused(client, settings):
    settings.KYC_MAX_IMAGE_PIXELS = 100 * 100
    assert_refused(post(client, "bomb.png", png_bytes((200, 200))), "invalid_file")


def test_path_traversal_name_never_reaches_storage(client):
    response = post(client, "../../etc/passwd.jpg", jpeg_bytes())
    assert response.status_code == 201, response.content
    doc = KycDocument.objects.get()
    assert ".." not in doc.storage_name
    assert "passwd" not in doc.storage_name
    user_id, file_name = doc.storage_name.split("/")
    assert user_id == str(doc.profile.user_id)
    assert file_name.endswith(".jpg") and len(file_name) == 36
    assert doc.original_name == "passwd.jpg"
    assert storages["kyc"].exists(doc.storage_name)


def test_exif_gps_is_stripped_from_stored_jpeg(client):
    original = jpeg_bytes((64, 48), gps=True)
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(0x8825)  # the test file really has GPS
    response = post(client, "holiday.jpg", original)
    assert response.status_code == 201, response.content
    doc = KycDocument.objects.get()
    with storages["kyc"].open(doc.storage_name, "rb") as handle:
        stored = handle.read()
    assert b"SpyCam" not in stored
    assert b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert image.size == (64, 48)
        assert not image.getexif()
        assert "exif" not in image.info
    assert doc.content_type == "image/jpeg"
    assert doc.size == len(stored)


def test_png_text_chunks_and_trailing_bytes_are_dropped(client):
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "<script>alert(1)</script>")
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="PNG", pnginfo=meta)
    content = out.getvalue() + b"<?php echo 1; ?>"
    response = post(client, "id.png", content, "image/png", "passport")
    assert response.status_code == 201, response.content
    doc = KycDocument.objects.get()
    stored = storages["kyc"].open(doc.storage_name).read()
    assert b"script" not in stored
    assert b"php" not in stored


def test_a_png_sent_as_jpeg_is_stored_as_what_it_is(client):
    response = post(client, "photo.jpg", png_bytes(), "image/jpeg")
    assert response.status_code == 201
    doc = KycDocument.objects.get()
    assert doc.content_type == "image/png"
    assert doc.storage_name.endswith(".png")


def test_clean_pdf_is_kept_byte_for_byte(client):
    content = pdf_bytes()
    response = post(client, "bill.pdf", content, "application/pdf", "proof_of_address")
    assert response.status_code == 201, response.content
    doc = KycDocument.objects.get()
    assert storages["kyc"].open(doc.storage_name).read() == content


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _markers(jpeg: bytes) -> list[int]:
    """The markers of the segments before the image data (SOS)."""
    found, at = [], 2
    while jpeg[at] == 0xFF:
        marker = jpeg[at + 1]
        found.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return found
        at += 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")
    return found


def test_jpeg_comment_and_text_app_segments_are_dropped(client):
    # given a JPEG carrying a script in a COM segment and in APP segments (an EXIF
    # description, XMP, a Photoshop IRB and an APP15 of free text)
    script = b"<script>alert(document.cookie)</script>"
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x0e\x01\x02\x00"
    exif += len(script).to_bytes(4, "little") + (26).to_bytes(4, "little")
    exif += b"\x00\x00\x00\x00" + script
    hidden = (
        _segment(0xFE, script)
        + _segment(0xE1, exif)
        + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + script)
        + _segment(0xED, b"Photoshop 3.0\x008BIM" + script)
        + _segment(0xEF, script)
    )
    plain = jpeg_bytes()
    content = plain[:2] + hidden + plain[2:]
    assert content.count(script) == 5
    assert 0xFE in _markers(content)
    # when it is uploaded
    response = post(client, "me.jpg", content)
    # then the stored file is the picture alone: no COM, only the JFIF APP0
    assert response.status_code == 201, response.content
    stored = storages["kyc"].open(KycDocument.objects.get().storage_name).read()
    assert script not in stored
    assert b"<script" not in stored
    markers = _markers(stored)
    assert 0xFE not in markers
    assert [m for m in markers if 0xE0 <= m <= 0xEF] == [0xE0]
    assert stored[6:11] == b"JFIF\x00"
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (40, 30)
        assert "comment" not in image.info
        assert "exif" not in image.info
