"""`make stack-check`: the production stack, end to end, in under three minutes.

Uses the running stack (`make stack`) or starts one (deploy/stack/run) and stops
what it started. Through the API on one server it places orders, cancels one and
crosses another; the buyer's fill is read back on the user stream of the OTHER
server (the channel layer joins them); then the metrics must have moved (orders
accepted, a matching run, a trade, HTTP responses), Prometheus must scrape the
stack, and `manage.py verify_ledger` must pass. Exit status 0 only if all did.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from pathlib import Path

import httpx
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
STACK_DIR = Path(os.environ.get("STACK_DIR", ROOT / "var" / "stack")).resolve()
WEB1 = int(os.environ.get("STACK_WEB1_PORT", "8061"))
WEB2 = int(os.environ.get("STACK_WEB2_PORT", "8062"))
PROMETHEUS = int(os.environ.get("STACK_PROMETHEUS_PORT", "9061"))
BUDGET_SECONDS = float(os.environ.get("STACK_CHECK_SECONDS", "175"))
PASSWORD = "exchange-demo-pass"  # the demo users' (accounts/seed.py)
SYMBOL = "BTC-USD"
STARTED = time.monotonic()


class CheckFailed(Exception):
    pass


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {message}", flush=True)


def left() -> float:
    return BUDGET_SECONDS - (time.monotonic() - STARTED)


def wait_for(what: str, probe, *, seconds: float) -> object:
    deadline = time.monotonic() + min(seconds, left())
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(1)
    raise CheckFailed(f"{what}: not within {seconds:.0f} s (last: {last!r})")


def up(port: int, path: str = "/readyz") -> bool:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=3).status_code == 200


def stack_env() -> dict[str, str]:
    values = {}
    for line in (STACK_DIR / "stack.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key] = value
    return values


def start() -> subprocess.Popen:
    say("no stack running: starting deploy/stack/run")
    log = (STACK_DIR / "stack-check.log").open("w")
    return subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
        [str(ROOT / "deploy" / "stack" / "run")],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as one
    )


def stop(process: subprocess.Popen) -> None:
    say("stopping the stack it started")
    try:
        os.killpg(process.pid, signal.SIGTERM)  # honcho stops its processes
        process.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def metrics(token: str) -> dict[tuple[str, str], float]:
    response = httpx.get(
        f"http://127.0.0.1:{WEB1}/metrics",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    samples: dict[tuple[str, str], float] = {}
    for line in response.text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if match:
            key = (match.group(1), match.group(2) or "")
            samples[key] = samples.get(key, 0.0) + float(match.group(3))
    return samples


def total(samples: dict[tuple[str, str], float], name: str, has: str = "") -> float:
    return sum(v for (n, labels), v in samples.items() if n == name and has in labels)


def login(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD, "accept_terms": True},
    )
    if response.status_code != 200:
        raise CheckFailed(f"login {email}: {response.status_code} {response.text}")
    return {"Authorization": f"Bearer {response.json()['access']}"}


def place(client: httpx.Client, auth: dict[str, str], **order: str) -> dict:
    response = client.post(
        "/api/v1/orders", json={"symbol": SYMBOL, **order}, headers=auth
    )
    if response.status_code not in (200, 201):
        raise CheckFailed(f"order {order}: {response.status_code} {response.text}")
    return response.json()


def steps(token: str) -> None:
    before = metrics(token)
    api = httpx.Client(base_url=f"http://127.0.0.1:{WEB1}", timeout=15)
    alice, bob = login(api, "alice@example.com"), login(api, "bob@example.com")
    market = next(
        m for m in api.get("/api/v1/markets").json()["results"] if m["symbol"] == SYMBOL
    )
    tick, step = Decimal(market["tick_size"]), Decimal(market["lot_size"])
    depth = api.get(f"/api/v1/markets/{SYMBOL}/depth").json()
    reference = Decimal(
        (depth["asks"] and depth["asks"][0][0])
        or market["last_price"]
        or (depth["bids"] and depth["bids"][0][0])
        or "95000"
    )
    price = (reference / tick).quantize(Decimal(1), ROUND_DOWN) * tick
    far = (reference * Decimal("0.97") / tick).quantize(Decimal(1), ROUND_DOWN) * tick
    # the smallest quantity allowed, worth at least the minimum notional
    least = max(
        step,
        Decimal(market["min_quantity"]),
        Decimal(market["min_notional"]) / far,
    )
    lot = format(
        ((least / step).to_integral_value(ROUND_CEILING) * step).normalize(), "f"
    )
    say(f"{SYMBOL}: reference {reference}, tick {tick}, quantity {lot}")

    ticket = api.post("/api/v1/stream-tickets", headers=bob).json()["ticket"]
    with connect(f"ws://127.0.0.1:{WEB2}/ws/user/?ticket={ticket}") as stream:
        hello = json.loads(stream.recv(timeout=10))
        if hello.get("type") != "auth" or not hello.get("ok"):
            raise CheckFailed(f"user stream on :{WEB2}: {hello}")

        resting = place(
            api, bob, side="buy", type="limit", price=str(far), quantity=lot
        )
        sell = place(
            api, alice, side="sell", type="limit", price=str(price), quantity=lot
        )
        buy = place(api, bob, side="buy", type="limit", price=str(price), quantity=lot)
        say(f"placed orders {resting['id']}, {sell['id']} (sell) and {buy['id']} (buy)")

        def order_open(order_id: int, auth) -> bool:
            state = api.get(f"/api/v1/orders/{order_id}", headers=auth).json()
            return state["status"] in ("open", "partially_filled", "filled")

        wait_for(
            "the resting order applied",
            lambda: order_open(resting["id"], bob),
            seconds=30,
        )
        cancelled = api.delete(f"/api/v1/orders/{resting['id']}", headers=bob)
        if cancelled.status_code not in (200, 202):
            raise CheckFailed(f"cancel: {cancelled.status_code} {cancelled.text}")

        def fill_seen() -> dict | None:
            message = json.loads(stream.recv(timeout=max(1.0, min(5.0, left()))))
            return message if message.get("type") == "fill" else None

        fill = wait_for("a fill on the user stream", fill_seen, seconds=45)
        say(f"fill on :{WEB2}'s user stream: {json.dumps(fill)[:160]}")

    def cancelled_state() -> bool:
        state = api.get(f"/api/v1/orders/{resting['id']}", headers=bob).json()
        return state["status"] == "cancelled"

    wait_for("the cancel applied", cancelled_state, seconds=30)
    # Alice's sell may have rested (the maker's ask was first): cancel what is left.
    state = api.get(f"/api/v1/orders/{sell['id']}", headers=alice).json()
    if state["status"] in ("open", "partially_filled"):
        api.delete(f"/api/v1/orders/{sell['id']}", headers=alice)
    say("orders placed, one cancelled, one filled")

    def moved() -> bool:
        after = metrics(token)
        checks = {
            "orders accepted": total(after, "exchange_orders_accepted_total", SYMBOL)
            >= total(before, "exchange_orders_accepted_total", SYMBOL) + 3,
            "matching runs": total(after, "exchange_matching_runs_total")
            > total(before, "exchange_matching_runs_total"),
            "trades": total(after, "exchange_trades_total", SYMBOL)
            > total(before, "exchange_trades_total", SYMBOL),
            "user stream send lag": total(
                after, "exchange_websocket_send_lag_seconds_count", 'stream="user"'
            )
            > total(
                before, "exchange_websocket_send_lag_seconds_count", 'stream="user"'
            ),
            "HTTP responses": total(
                after, "django_http_responses_total_by_status_view_method_total"
            )
            > total(before, "django_http_responses_total_by_status_view_method_total"),
            "commands pending figure": (
                "exchange_order_commands_pending",
                f'{{symbol="{SYMBOL}"}}',
            )
            in after,
        }
        missing = [name for name, ok in checks.items() if not ok]
        if missing:
            raise ValueError(f"not moved: {', '.join(missing)}")
        return True

    wait_for("the metrics to move", moved, seconds=20)
    say("metrics moved: orders accepted, matching runs, trades, stream lag, HTTP")

    def scraped() -> bool:
        response = httpx.get(
            f"http://127.0.0.1:{PROMETHEUS}/api/v1/query",
            params={"query": 'sum(exchange_orders_accepted_total{job="exchange"})'},
            timeout=5,
        )
        result = response.json()["data"]["result"]
        return bool(result) and float(result[0]["value"][1]) > 0

    wait_for("Prometheus to scrape the stack", scraped, seconds=30)
    say(f"Prometheus on :{PROMETHEUS} scrapes the stack")


def verify_ledger() -> None:
    env = {**os.environ, **stack_env()}
    result = subprocess.run(  # noqa: S603 (manage.py, fixed arguments)
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "verify_ledger"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=max(10.0, left()),
    )
    if result.returncode != 0:
        raise CheckFailed(f"verify_ledger failed:\n{result.stdout}{result.stderr}")
    say(f"verify_ledger: {result.stdout.strip().splitlines()[-1]}")


def main() -> int:
    process = None
    try:
        try:
            running = up(WEB1) and up(WEB2)
        except httpx.HTTPError:
            running = False
        if not running:
            STACK_DIR.mkdir(parents=True, exist_ok=True)
            process = start()
        else:
            say(f"using the running stack on :{WEB1} and :{WEB2}")
        wait_for("the stack ready", lambda: up(WEB1) and up(WEB2), seconds=150)
        say("both ASGI servers ready")
        token = stack_env()["METRICS_TOKEN"]
        steps(token)
        verify_ledger()
    except CheckFailed as exc:
        say(f"FAILED: {exc}")
        if process is not None:
            say(f"the stack's output: {STACK_DIR / 'stack-check.log'}")
        return 1
    finally:
        if process is not None:
            stop(process)
    say("stack-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
