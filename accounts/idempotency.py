"""Idempotency-Key for write endpoints that move money.

The key is claimed by inserting its row in the same transaction as the write, so a
concurrent twin blocks on the unique index until the first commits, then replays
its stored response; a failed write rolls the claim back so a retry runs again.
Only successful responses are stored. Same key with a different body: 409.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import AccountsErrorCode as Code
from accounts.models import IdempotencyKey
from config.domain_errors import ApplicationError, Conflict

HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,128}$")


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    raw = f"{request.method}\n{request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise Conflict(
            Code.IDEMPOTENCY_KEY_REUSED,
            f"{HEADER}: this key was already used with a different request body.",
            details={"idempotency_key": record.key},
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def run_idempotent(
    *, request: Request, scope: str, handler: Callable[[], Response]
) -> Response:
    key = request.headers.get(HEADER, "")
    if not _KEY_RE.match(key):
        raise ApplicationError(
            Code.IDEMPOTENCY_KEY_INVALID,
            f"{HEADER}: header is required (1-128 of letters, digits, _-:.).",
            details={"idempotency_key": ["Required header, 1-128 safe characters."]},
        )
    fingerprint = _fingerprint(request)
    lookup = {"user": request.user, "scope": scope, "key": key}
    with transaction.atomic():
        record = IdempotencyKey.objects.filter(**lookup).first()
        if record is not None:
            return _replay(record, fingerprint)
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    **lookup,
                    request_fingerprint=fingerprint,
                    response_status=0,
                    response_body={},
                )
        except IntegrityError:
            # A concurrent twin committed first: answer with its result.
            return _replay(IdempotencyKey.objects.get(**lookup), fingerprint)
        response = handler()
        record.response_status = response.status_code
        record.response_body = json.loads(json.dumps(response.data, default=str))
        record.save(update_fields=["response_status", "response_body"])
        return response
