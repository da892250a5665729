"""`/metrics` for Prometheus: the internal network, or a bearer token.

Allowed when the request's resolved client address (config/clientip.py, so a
forged X-Forwarded-For counts only through TRUSTED_PROXIES) is in
METRICS_TRUSTED_NETWORKS, or when it carries `Authorization: Bearer
<METRICS_TOKEN>`. A wrong token is a 401; no token from outside is a 401 when a
token is configured (it would help) and a 403 otherwise. docs/operations.md.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from config.clientip import client_ip
from config.metrics import exposition

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(spec: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in spec.split(",")
        if part.strip()
    )


def metrics_address_trusted(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(settings.METRICS_TRUSTED_NETWORKS))


def _refused(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse(
        {"error": {"code": code, "message": message, "details": {}}}, status=status
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, given = header.partition(" ")
        if not (
            token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), token.encode())
        ):
            return _refused(
                401, "not_authenticated", "Authorization: the metrics token is wrong."
            )
    elif not metrics_address_trusted(client_ip(request)):
        if token:
            return _refused(
                401,
                "not_authenticated",
                "Authorization: send the metrics token as a Bearer token.",
            )
        return _refused(
            403,
            "permission_denied",
            "Metrics are served only to the internal network.",
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
