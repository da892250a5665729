"""Contract test: schemathesis over every operation of `/api/schema/`.

A uvicorn server on 127.0.0.1 serves the test database (PostgreSQL); a verified,
funded user (KYC approved through the real review flow, USD and BTC credited by a
ledger posting) calls every operation of the OpenAPI description that
drf-spectacular generates, with a JWT bearer token. Hypothesis generates the
inputs from the schema, derandomized (the same cases on every run), no deadline.
Each response must: not be a 5xx, have a documented status code, a documented
content type, documented headers, and a body that matches the documented schema.
Every failure is collected (no shrinking, so the run stays bounded) and reported
at the end. The fuzzer places orders and withdrawals, so `verify_ledger`'s checks
run afterwards and must all pass.

Run alone (PostgreSQL and Redis, as CI does):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/exchange \\
    REDIS_URL=redis://127.0.0.1:6379/0 pytest config/tests/test_api_fuzz.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import requests
import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.authentication import TOKEN_VERSION_CLAIM
from accounts.testing import make_user
from kyc.testing import kyc_approve
from trading.tests.helpers import make_btc_usd
from wallet.models import Asset
from wallet.tests.helpers import fund
from wallet.verification import ledger_verify

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
# Per operation; operations with few inputs end earlier (Hypothesis stops once it
# has tried everything), the total must still reach MIN_CASES.
MAX_EXAMPLES = 60
MIN_CASES = 2000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}"
        f":{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def server(transactional_db, tmp_path):
    """uvicorn serving the test database; stopped before the test's flush."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "DB_POOL": "false",
        "CELERY_BROKER_URL": "",
        # the KYC files the test stores (kyc_approve) are the server's too
        "TEST_PRIVATE_MEDIA_ROOT": django_settings.PRIVATE_MEDIA_ROOT,
    }
    port = _free_port()
    log_path = tmp_path / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{port}/healthz"
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "server did not start:\n" + log_path.read_text()[-4000:]
                    ) from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _trader_token() -> str:
    """A verified, funded trader: KYC approved, 1,000,000 USD and 10 BTC."""
    instrument = make_btc_usd()
    user = make_user(email="fuzz@example.com", full_name="Fuzz Trader")
    kyc_approve(user=user)
    fund(user, instrument.quote, 100_000_000)
    fund(user, instrument.base, 1_000_000_000)
    Asset.objects.get_or_create(
        code="INR", defaults={"name": "Indian Rupee", "decimals": 2, "kind": "fiat"}
    )
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    return str(refresh.access_token)


def _tracebacks(log_path: Path) -> str:
    """The server log's first tracebacks, if any."""
    text = log_path.read_text()
    start = text.find("Traceback")
    return text[start : start + 6000] if start >= 0 else ""


def _describe(case, response, error: BaseException) -> str:
    """One line per failed check: the check's first lines, the status, the body."""
    errors = getattr(error, "exceptions", None) or [error]
    lines = []
    for each in errors:
        text = [line.strip() for line in str(each).splitlines() if line.strip()]
        lines.append(" / ".join(text[:3]))
    return (
        f"{case.operation.label} -> {response.status_code}: {'; '.join(lines)} "
        f"body={response.text[:200]!r}"
    )


def test_every_operation_conforms_to_the_schema(server):
    base_url, log_path = server
    token = _trader_token()
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/")
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    cases: Counter[str] = Counter()
    failures: dict[str, set[str]] = {}
    operations = []

    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            cases[case.operation.label] += 1
            response = case.call(base_url=base_url, session=session, headers=headers)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001
                # collected and reported at the end: no shrinking, bounded time
                failures.setdefault(case.operation.label, set()).add(
                    _describe(case, response, error)
                )

        run()

    total = sum(cases.values())
    print(f"schemathesis: {total} cases over {len(operations)} operations")
    ledger = {r.name: r.problems for r in ledger_verify() if r.problems}
    report = "\n".join(
        message for messages in failures.values() for message in sorted(messages)
    )
    assert not failures, (
        f"{len(failures)} operations failed:\n{report}\n" + _tracebacks(log_path)
    )
    assert len(operations) >= 50, operations
    assert set(cases) == set(operations), set(operations) - set(cases)
    assert total >= MIN_CASES, (total, cases)
    assert ledger == {}
    assert _tracebacks(log_path) == ""
