"""Documents in an S3-compatible bucket: a real S3 server (moto in server mode)
started by the test, driven through the API like the local default."""

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from accounts.services import backup_codes_ensure
from accounts.testing import api_client_for, make_user
from kyc import services
from kyc.models import KycDocument
from kyc.tests.helpers import (
    TODAY,
    fill_profile,
    jpeg_bytes,
    make_reviewer,
    pdf_bytes,
    png_bytes,
    upload,
    upload_file,
)

pytestmark = pytest.mark.django_db
BUCKET = "kyc-private-test"
CREDENTIALS = {"access_key": "testing", "secret_key": "testing"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, settings):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "kyc": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "location": "kyc",
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
                **CREDENTIALS,
            },
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_upload_and_fetch_through_the_api_with_s3(
    s3, s3_endpoint, django_capture_on_commit_callbacks
):
    user = make_user()
    fill_profile(user)
    client = api_client_for(user)
    content = png_bytes((32, 32))
    response = client.post(
        "/api/v1/kyc/documents",
        {"doc_type": "passport", "file": upload_file("p.png", content)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    doc = KycDocument.objects.get()

    key = f"kyc/{doc.storage_name}"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [key]
    stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert stored.startswith(b"\x89PNG") and len(stored) == doc.size

    # Private: only the owner grant, and an unsigned request is refused.
    grants = s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert all(grant["Grantee"]["Type"] == "CanonicalUser" for grant in grants)
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{s3_endpoint}/{BUCKET}/{key}")  # noqa: S310
    assert exc.value.code == 403

    # The control: a public-read object would be readable, so the 403 means private.
    s3.put_object(Bucket=BUCKET, Key="control.txt", Body=b"x", ACL="public-read")
    with urllib.request.urlopen(f"{s3_endpoint}/{BUCKET}/control.txt") as ok:  # noqa: S310
        assert ok.status == 200

    fetched = client.get(f"/api/v1/kyc/documents/{doc.pk}/file")
    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content) == stored
    assert fetched["X-Content-Type-Options"] == "nosniff"

    # A draft deleted through the API leaves the bucket too (after commit).
    draft = client.post(
        "/api/v1/kyc/documents",
        {"doc_type": "selfie", "file": upload_file("s.jpg", jpeg_bytes())},
        format="multipart",
    ).json()
    draft_key = f"kyc/{KycDocument.objects.get(pk=draft['id']).storage_name}"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/v1/kyc/documents/{draft['id']}").status_code == 204
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert draft_key not in keys

    # Once submitted, a reviewer (2FA) reads it from the bucket; others get 404.
    upload(user, "proof_of_address", pdf_bytes(), "bill.pdf")
    upload(user, "selfie", jpeg_bytes(), "me.jpg")
    services.kyc_submit(user=user, today=TODAY)
    reviewer = make_reviewer()
    backup_codes_ensure(user=reviewer)
    as_reviewer = api_client_for(reviewer).get(f"/api/v1/kyc/documents/{doc.pk}/file")
    assert as_reviewer.status_code == 200
    assert b"".join(as_reviewer.streaming_content) == stored
    other = api_client_for(make_user()).get(f"/api/v1/kyc/documents/{doc.pk}/file")
    assert other.status_code == 404


def test_settings_switch_to_s3_when_a_bucket_is_configured():
    code = (
        "import json; from config.settings import base; "
        "print(json.dumps(base.STORAGES['kyc']))"
    )
    env = {
        **os.environ,
        "KYC_S3_BUCKET": "exchange-kyc",
        "KYC_S3_ENDPOINT_URL": "https://s3.example.net",
        "KYC_S3_REGION": "eu-central-1",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        check=True,
        text=True,
    )
    config = json.loads(out.stdout.strip().splitlines()[-1])
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    options = config["OPTIONS"]
    assert options["bucket_name"] == "exchange-kyc"
    assert options["endpoint_url"] == "https://s3.example.net"
    assert options["default_acl"] == "private"
    assert options["location"] == "kyc"


def test_local_default_lives_outside_any_public_root():
    code = (
        "import json; from config.settings import base; "
        "print(json.dumps([base.STORAGES['kyc'], str(base.STATIC_ROOT)]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYC_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        check=True,
        text=True,
    )
    config, static_root = json.loads(out.stdout.strip().splitlines()[-1])
    assert config["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    location = config["OPTIONS"]["location"]
    assert location.endswith("var/private/kyc")
    assert not location.startswith(static_root)
    assert config["OPTIONS"]["base_url"] is None
