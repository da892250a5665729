"""End-to-end check of the embedded mode: a real `uvicorn config.asgi:application`
on SQLite with the in-memory channel layer and eager Celery. Orders go in over
HTTP; the matcher runs in the request's thread and must reach the WebSocket
clients served by the same process.

    python -m bench.embedded_check

Exits 0 and prints what arrived, or 1 with what was missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.request

from bench.stack import access_token, django_setup, free_port, seed_market

SYMBOL = "EMB-USD"


def post_order(port: int, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/orders",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def stream_ticket(port: int, token: str) -> str:
    """A single-use /ws/user/ ticket (access tokens are not accepted there)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/stream-tickets",
        data=b"",
        headers={"Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["ticket"]


async def run(port: int, tokens: list[str]) -> list[str]:
    import websockets

    problems: list[str] = []
    base = f"ws://127.0.0.1:{port}"
    async with (
        websockets.connect(f"{base}/ws/market/{SYMBOL}/") as market,
        websockets.connect(
            f"{base}/ws/user/?ticket={stream_ticket(port, tokens[1])}"
        ) as user,
    ):
        snapshot = json.loads(await asyncio.wait_for(market.recv(), 5))
        print("market snapshot seq", snapshot["seq"])
        print("user stream:", await asyncio.wait_for(user.recv(), 5))
        loop = asyncio.get_running_loop()
        sent = time.time()
        order = {"symbol": SYMBOL, "side": "sell", "price": "101", "quantity": "0.5"}
        await loop.run_in_executor(None, post_order, port, tokens[0], order)
        order = {"symbol": SYMBOL, "side": "buy", "price": "101", "quantity": "0.2"}
        placed = await loop.run_in_executor(None, post_order, port, tokens[1], order)
        print("HTTP order", placed["id"], placed["status"])
        seen: list[str] = []
        try:
            while "trade" not in seen:
                frame = json.loads(await asyncio.wait_for(market.recv(), 5))
                kinds = [message["type"] for message in frame.get("messages", [])]
                print(
                    f"market {frame['type']} seq {frame.get('seq')} {kinds} "
                    f"after {time.time() - sent:.3f}s"
                )
                seen += kinds
        except TimeoutError:
            problems.append(f"market stream: no trade within 5 s (saw {seen})")
        events: list[dict] = []
        try:
            while not {"order", "fill", "balance"} <= {e["type"] for e in events}:
                events.append(json.loads(await asyncio.wait_for(user.recv(), 5)))
                print("user", events[-1]["type"], events[-1].get("event_id"))
        except TimeoutError:
            problems.append(f"user stream: missing events (saw {events})")
    return problems


def main() -> int:
    workdir = tempfile.mkdtemp(prefix="embedded-check-")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "SQLITE_PATH": os.path.join(workdir, "db.sqlite3"),
        "KYC_STORAGE_ROOT": os.path.join(workdir, "kyc"),
        "THROTTLE_ORDERS": "1000/s",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    django_setup(env)
    from django.conf import settings

    assert "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    _, users = seed_market(SYMBOL, 2, "embedded")
    tokens = [access_token(user) for user in users]
    from bench.stack import start_uvicorn

    port = free_port()
    server = start_uvicorn(env, port)
    try:
        problems = asyncio.run(run(port, tokens))
    finally:
        server.terminate()
        server.wait(10)
    for problem in problems:
        print("FAIL:", problem)
    print("OK" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
