"""No password, token, secret, card number or full document number is ever logged.

Real flows through the API and the WebSocket stream (signup, login, a token
refresh and a reused one, a password change, a stream opened with a ticket and
one tried with a token in its URL, a KYC profile with its identity number and
the documents submitted, a withdrawal to a bank account), with every logger of
the process at DEBUG (SQL statements and their parameters included), written by
the project's formatter; then the output is searched for the actual values used.

And the ASGI server as configured (uvicorn, config/logging.py): its access lines
and its WebSocket lines name paths without their query strings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import User
from config.tests.live_server import uvicorn_server
from config.tests.logcapture import capture_logs
from kyc import services as kyc_services
from kyc.models import KycCase
from kyc.tests.helpers import make_reviewer, png_bytes, upload_file
from wallet.tests.helpers import fund, make_asset, make_beneficiary

FIRST_PASSWORD = "first-Secret-pass-8812"
SECOND_PASSWORD = "second-Secret-pass-4471"
PAN_NUMBER = "BNZPM2501F"
PASSPORT_NUMBER = "Z7741963"
PROFILE = {
    "legal_name": "Asha Rao",
    "date_of_birth": "1990-05-17",
    "country": "IN",
    "address_line1": "12 MG Road",
    "city": "Bengaluru",
    "postal_code": "560001",
}


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content
    return response.json() if response.content else {}


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


async def _stream(path: str) -> tuple[bool, str]:
    from config.asgi import application

    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    text = ""
    if connected:
        text = await communicator.receive_from(timeout=5)
    await communicator.disconnect()
    await asyncio.sleep(0)
    return connected, text


def _flows() -> list[str]:
    """Run every flow; returns the secret values they used."""
    secrets = [FIRST_PASSWORD, SECOND_PASSWORD, PAN_NUMBER, PASSPORT_NUMBER]
    # signup and login
    _ok(
        APIClient().post(
            "/api/v1/auth/register",
            {
                "email": "redact@example.com",
                "password": FIRST_PASSWORD,
                "full_name": "Asha Rao",
                "accept_terms": True,
            },
            format="json",
        ),
        201,
    )
    user = User.objects.get(email="redact@example.com")
    # the emailed link, not under test here
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())

    def login(password: str) -> dict:
        tokens = _ok(
            APIClient().post(
                "/api/v1/auth/login",
                {"email": user.email, "password": password},
                format="json",
            )
        )
        secrets.extend([tokens["access"], tokens["refresh"]])
        return tokens

    first = login(FIRST_PASSWORD)
    # a wrong password, logged as a failure (never with what was typed)
    wrong = APIClient().post(
        "/api/v1/auth/login",
        {"email": user.email, "password": FIRST_PASSWORD + "x"},
        format="json",
    )
    assert wrong.status_code == 401
    # token refresh, and the rotated token used again (reuse detection)
    rotated = _ok(
        APIClient().post(
            "/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json"
        )
    )
    secrets.extend([rotated["access"], rotated["refresh"]])
    reused = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json"
    )
    assert reused.status_code == 401
    # password change
    second = login(FIRST_PASSWORD)
    _ok(
        _bearer(second["access"]).post(
            "/api/v1/auth/password",
            {"old_password": FIRST_PASSWORD, "new_password": SECOND_PASSWORD},
            format="json",
        ),
        204,
    )
    third = login(SECOND_PASSWORD)
    api = _bearer(third["access"])

    # the user stream: a ticket, then a token in the URL (refused)
    ticket = _ok(api.post("/api/v1/stream-tickets"), 201)["ticket"]
    secrets.append(ticket)
    opened, first_message = async_to_sync(_stream)(f"/ws/user/?ticket={ticket}")
    assert opened and '"auth"' in first_message
    async_to_sync(_stream)(f"/ws/user/?token={third['access']}")

    # KYC: the identity number (a PAN, then a passport), documents, submit
    _ok(
        api.put(
            "/api/v1/kyc/profile",
            {**PROFILE, "id_type": "pan", "id_number": PAN_NUMBER},
            format="json",
        )
    )
    _ok(
        api.put(
            "/api/v1/kyc/profile",
            {**PROFILE, "id_type": "passport", "id_number": PASSPORT_NUMBER},
            format="json",
        )
    )
    for doc_type in ("passport", "proof_of_address", "selfie"):
        _ok(
            api.post(
                "/api/v1/kyc/documents",
                {
                    "doc_type": doc_type,
                    "file": upload_file(f"{doc_type}.png", png_bytes()),
                },
                format="multipart",
            ),
            201,
        )
    assert _ok(api.post("/api/v1/kyc/submit"))["status"] == "submitted"
    case_id = KycCase.objects.get(profile__user=user).pk
    reviewer = make_reviewer(email="reviewer@example.com")
    kyc_services.kyc_case_claim(case_id=case_id, reviewer=reviewer)
    for document_id in KycCase.objects.get(pk=case_id).documents.values_list(
        "pk", flat=True
    ):
        kyc_services.kyc_document_decide(
            case_id=case_id, document_id=document_id, reviewer=reviewer, accept=True
        )
    kyc_services.kyc_case_approve(case_id=case_id, reviewer=reviewer)

    # a withdrawal to a bank account
    usd = make_asset("USD", 2)
    fund(user, usd, 50_000)
    to = make_beneficiary(user)
    withdrawal = _ok(
        api.post(
            "/api/v1/wallet/withdrawals",
            {"asset": "USD", "amount": "120.00", "beneficiary": to.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY="redaction-w-1",
        ),
        201,
    )
    assert withdrawal["status"] == "requested"
    return secrets


@pytest.mark.django_db(transaction=True)
def test_no_secret_reaches_a_log_line_of_any_logger_at_debug():
    connection.force_debug_cursor = True  # every SQL statement and its parameters
    try:
        with capture_logs(logging.DEBUG) as logs:
            secrets = _flows()
    finally:
        connection.force_debug_cursor = False
    # the refresh tokens as simplejwt stored them (written by SQL statements)
    secrets += list(OutstandingToken.objects.values_list("token", flat=True))
    secrets += [
        settings.SECRET_KEY,
        settings.KYC_ENCRYPTION_KEY,
        settings.SANDBOX_WEBHOOK_SECRET,
    ]
    lines = logs.lines()
    loggers = {line["logger"] for line in lines}
    # the capture saw the flows: SQL, requests, the stream
    assert {"django.db.backends", "django.request"} <= loggers, loggers
    assert any(line.get("request_id") for line in lines)
    leaks = []
    for secret in secrets:
        found = [line for line in logs.text.splitlines() if secret in line]
        if found:
            leaks.append(f"{secret[:12]}... logged: {found[0][:300]}")
    assert not leaks, "\n".join(leaks)
    # and the redaction had work to do
    assert "[redacted]" in logs.text
    # the last four of the passport number may show, never the whole of it
    assert PASSPORT_NUMBER[-4:] and PASSPORT_NUMBER not in logs.text


def test_the_asgi_server_logs_no_query_string(tmp_path: Path):
    log_path = tmp_path / "uvicorn.log"
    secret = "qs-secret-value-5521"
    # no database: the paths used need none
    env = {"DATABASE_URL": "", "REDIS_URL": "", "LOG_FORMAT": "json"}
    with uvicorn_server(env=env, log_path=log_path) as port:
        base = f"http://127.0.0.1:{port}"
        for path in (f"/healthz?token={secret}", f"/api/v1/nothing?x={secret}"):
            try:
                urllib.request.urlopen(base + path, timeout=5).close()  # noqa: S310
            except urllib.error.HTTPError:
                pass
        asyncio.run(_ws_try(f"ws://127.0.0.1:{port}/ws/user/?ticket={secret}"))
    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert any('"GET /healthz HTTP/1.1" 200' in event for event in events), text
    assert any('"GET /api/v1/nothing HTTP/1.1" 404' in event for event in events)
    assert any('"WebSocket /ws/user/"' in event for event in events), text
    assert secret not in text


async def _ws_try(url: str) -> None:
    import websockets

    try:
        async with websockets.connect(url, open_timeout=5) as socket:
            await asyncio.wait_for(socket.recv(), 5)
    except Exception:  # refused or closed: only the server's log line matters
        return
