"""A real uvicorn serving config.asgi in a subprocess on 127.0.0.1, for tests that
need the whole stack (the ASGI body limit, a contract fuzzer): started with the
given environment, waited for on /healthz, stopped (and killed if it hangs) after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def uvicorn_server(
    *, env: dict[str, str], log_path: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[int]:
    """Serve on a free port with `env` over this process's environment (test
    settings unless `env` says otherwise); yields the port. The server's output
    goes to `log_path`, shown when it fails to start."""
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        **env,
    }
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603
            [*command, *extra_args],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(process, port, log_path)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "server did not start:\n" + log_path.read_text()[-4000:]
                ) from None
            time.sleep(0.3)
