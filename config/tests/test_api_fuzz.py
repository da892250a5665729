"""Contract test: schemathesis over every operation of `/api/schema/`.

A uvicorn server on 127.0.0.1 serves the test database (PostgreSQL); a verified,
funded user (KYC approved through the real review flow, USD and BTC credited by a
ledger posting) calls every operation of the OpenAPI description that
drf-spectacular generates, with a JWT bearer token. Hypothesis generates the
inputs from the schema with a fixed seed (the same cases every run), no deadline.
Each response must: not be a 5xx, have a documented status code, a documented
content type, documented headers, and a body that matches the documented schema.
Every failure is collected (no shrinking, so the run stays bounded) and reported
at the end. Real orders trade first (holds, a fill, fees) and the fuzzer may
place and cancel more, so `verify_ledger`'s checks run afterwards and must pass.

Run alone (PostgreSQL and Redis, as CI does):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/exchange \\
    REDIS_URL=redis://127.0.0.1:6379/0 pytest config/tests/test_api_fuzz.py
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import requests
import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, Phase, given, seed
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
from config.tests.live_server import uvicorn_server
from kyc.testing import kyc_approve
from trading.models import Fill, Instrument
from trading.tests.helpers import make_btc_usd
from wallet.models import Asset
from wallet.tests.helpers import fund
from wallet.verification import ledger_verify

pytestmark = pytest.mark.postgres

# Per operation; operations with few inputs end earlier (Hypothesis stops once it
# has tried everything), the total must still reach MIN_CASES.
MAX_EXAMPLES = 60
MIN_CASES = 2000
# The same cases on every run (whatever else changes in this file).
SEED = 16
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


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
        "DATABASE_URL": _database_url(),
        "DB_POOL": "false",
        "CELERY_BROKER_URL": "",
        # the KYC files the test stores (kyc_approve) are the server's too
        "TEST_PRIVATE_MEDIA_ROOT": django_settings.PRIVATE_MEDIA_ROOT,
    }
    log_path = tmp_path / "server.log"
    with uvicorn_server(
        env=env, log_path=log_path, extra_args=("--log-level", "warning")
    ) as port:
        yield f"http://127.0.0.1:{port}", log_path


def _trader_token(email: str) -> str:
    """A verified, funded trader: KYC approved, 1,000,000 USD and 10 BTC."""
    instrument = Instrument.objects.get(symbol="BTC-USD")
    user = make_user(email=email, full_name="Fuzz Trader")
    kyc_approve(user=user)
    fund(user, instrument.quote, 100_000_000)
    fund(user, instrument.base, 1_000_000_000)
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    return str(refresh.access_token)


def _trade_first(schema, base_url: str, session, token: str, maker_token: str):
    """Real orders through the same checks before the fuzzing, so the ledger has
    holds, a partial fill and fees to verify, and the lists have rows: the other
    trader rests a sell, the fuzzed user buys part of it and rests a bid."""
    place = schema["/api/v1/orders"]["POST"]
    orders = [
        (maker_token, {"side": "sell", "price": "90000", "quantity": "0.5"}),
        (token, {"side": "buy", "price": "90000", "quantity": "0.2"}),
        (token, {"side": "buy", "price": "80000", "quantity": "0.1"}),
    ]
    for bearer, body in orders:
        case = place.Case(
            body={"symbol": "BTC-USD", **body}, media_type="application/json"
        )
        headers = {"Authorization": f"Bearer {bearer}"}
        response = case.call(base_url=base_url, session=session, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert response.status_code == 201, response.text
    assert Fill.objects.count() == 2  # one trade, two sides


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
    make_btc_usd()
    Asset.objects.get_or_create(
        code="INR", defaults={"name": "Indian Rupee", "decimals": 2, "kind": "fiat"}
    )
    token = _trader_token("fuzz@example.com")
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/")
    session = requests.Session()
    _trade_first(schema, base_url, session, token, _trader_token("maker@example.com"))
    headers = {"Authorization": f"Bearer {token}"}
    cases: Counter[str] = Counter()
    accepted: Counter[str] = Counter()  # 2xx answers to writes
    failures: dict[str, set[str]] = {}
    operations = []

    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)

        @seed(SEED)
        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            cases[case.operation.label] += 1
            response = case.call(base_url=base_url, session=session, headers=headers)
            if case.method != "GET" and 200 <= response.status_code < 300:
                accepted[case.operation.label] += 1
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
    print("accepted writes:", dict(sorted(accepted.items())))
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
