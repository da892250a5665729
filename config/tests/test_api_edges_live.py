"""The body limit and the error shape under a real uvicorn server on 127.0.0.1.

Django's ASGI handler reads a whole body (spooling it to disk) before any Django
middleware runs, so the limit has to act in front of it: these tests send a
chunked body that never ends, and a Content-Length of 500 MB with no body at all,
and expect a 413 long before either is read. The server's database is a
PostgreSQL port nothing listens on, so the API's answer to a dead database shows
here too, through the whole stack."""

from __future__ import annotations

import json
import select
import socket
import urllib.error
import urllib.request

import pytest

from config.tests.live_server import uvicorn_server

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("edges")
    env = {
        # nothing listens on port 1: every query fails to connect
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
        "DB_POOL": "false",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "API_MAX_BODY_BYTES": str(LIMIT),
    }
    with uvicorn_server(env=env, log_path=directory / "server.log") as port:
        yield port


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.1 response with a Content-Length."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        assert part, f"connection closed before a response: {data!r}"
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        part = sock.recv(65536)
        assert part, "connection closed mid-body"
        body += part
    return status, headers, body[:length]


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


TOO_LARGE = {
    "error": {
        "code": "payload_too_large",
        "message": f"The request body is larger than this route's limit of {LIMIT} "
        "bytes.",
        "details": {"limit_bytes": LIMIT},
    }
}


def test_a_chunked_body_that_never_ends_is_refused_once_past_the_limit(server):
    # given an anonymous client streaming a chunked body to the login, without end
    sock = socket.create_connection(("127.0.0.1", server))
    sock.sendall(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n" % 16384 + b" " * 16384 + b"\r\n"
    sent = 0
    try:
        # when it keeps sending until the server answers (or stops reading)
        sock.settimeout(2)
        while sent < 64 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)

        # then the answer is a 413 in the error shape, the connection closed,
        # and what was sent is a small multiple of the limit (socket buffers),
        # not the whole body
        status, headers, body = _read_response(sock)
        assert status == 413
        assert headers["content-type"] == "application/json"
        assert headers["connection"] == "close"
        assert json.loads(body) == TOO_LARGE
        assert _closed_by_server(sock)
        assert sent < 8 * 1024 * 1024
    finally:
        sock.close()


def test_a_declared_500_mb_body_is_refused_before_a_byte_is_sent(server):
    # given a request announcing 500 MB and sending none of it
    sock = socket.create_connection(("127.0.0.1", server))
    try:
        sock.sendall(
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 524288000\r\n\r\n"
        )

        # then the server answers at once
        status, headers, body = _read_response(sock)

        assert status == 413
        assert json.loads(body) == TOO_LARGE
        assert headers["connection"] == "close"
    finally:
        sock.close()


def _post(port: int, path: str, body: bytes, headers: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return (
            error.code,
            {k.lower(): v for k, v in error.headers.items()},
            error.read(),
        )


def test_a_chunked_body_under_the_limit_reaches_the_view(server):
    # given a small chunked body (urllib sends an iterable chunked)
    body = json.dumps({"email": "a@example.com", "password": "x"}).encode()

    # when it is posted to the login
    status, _, answer = _post(
        server,
        "/api/v1/auth/login",
        iter([body[:10], body[10:]]),
        {"Transfer-Encoding": "chunked"},
    )

    # then the view answered it; DRF reads no body without a Content-Length,
    # so the fields are missing
    assert status == 400
    assert json.loads(answer)["error"]["details"] == {
        "email": ["This field is required."],
        "password": ["This field is required."],
    }


def test_a_dead_database_is_a_503_with_retry_after(server):
    # given the server's database is a port nothing listens on
    body = json.dumps({"email": "a@example.com", "password": "x"}).encode()

    # when an anonymous client logs in
    status, headers, answer = _post(server, "/api/v1/auth/login", body)

    # then 503 in the error shape with Retry-After, not an HTML 500
    assert status == 503
    assert headers["retry-after"] == "5"
    assert headers["content-type"] == "application/json"
    assert json.loads(answer) == {
        "error": {
            "code": "service_unavailable",
            "message": "A service the API depends on is unavailable; try again "
            "shortly.",
            "details": {},
        }
    }


def test_deep_json_under_uvicorn_is_a_400(server):
    status, headers, answer = _post(
        server, "/api/v1/auth/login", b"[" * 10_000 + b"]" * 10_000
    )

    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(answer)["error"]["code"] == "parse_error"


def test_readyz_names_the_dead_database_and_tells_the_host_why(server):
    url = f"http://127.0.0.1:{server}/readyz"
    try:
        urllib.request.urlopen(url, timeout=30)  # noqa: S310
    except urllib.error.HTTPError as error:
        status, body = error.code, json.loads(error.read())
    else:
        raise AssertionError("readyz answered 200 with the database down")

    assert status == 503
    assert body["status"] == "failing"
    assert body["checks"] == {
        "database": "failing",
        "cache": "ok",
        "channel_layer": "ok",
        "broker": "not configured",
    }
    assert body["errors"]["database"].startswith("OperationalError: ")


def test_the_upload_route_takes_a_chunked_body_over_the_default_limit(server):
    # given a chunked body twice the default limit, well under the upload's
    body = b"x" * (2 * LIMIT)

    # when it is posted, chunked, to the KYC upload route without credentials
    status, _, answer = _post(
        server,
        "/api/v1/kyc/documents",
        iter([body[:LIMIT], body[LIMIT:]]),
        {"Transfer-Encoding": "chunked", "Content-Type": "multipart/form-data"},
    )

    # then it was read through to the view, which wants a signed-in user
    assert status == 401
    assert json.loads(answer)["error"]["code"] == "not_authenticated"
