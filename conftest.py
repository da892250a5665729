"""Project-wide test setup.

Tests marked `postgres` need real row locks and concurrency. On SQLite they are
skipped, unless REQUIRE_POSTGRES=1 (CI), where running them on anything but
PostgreSQL is an error rather than a silent skip.

On PostgreSQL the history tables refuse TRUNCATE (config/append_only.py), and a
transactional test ends with Django's flush, one `TRUNCATE` of every table. The
flush alone lets it through: see `_flush_truncates_history`.
"""

import os
import socket

import pytest
from django.conf import settings
from django.db import transaction
from django.db.backends.postgresql.operations import DatabaseOperations


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("postgres")]
    if not marked or _on_postgres():
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError(
            f"REQUIRE_POSTGRES=1 but the database is not PostgreSQL; "
            f"{len(marked)} postgres tests would be skipped."
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle and lockout counters must not leak between tests, nor the
    per-process copies of rows (the matcher's books, orders and ledger accounts,
    placement's instruments, the balance events' assets): a rolled-back test's
    ids are gone, and reused."""
    from django.core.cache import cache

    from marketdata import services as marketdata_services
    from trading.state import matcher_state

    def clear() -> None:
        cache.clear()
        matcher_state.reset()
        marketdata_services._ASSETS.clear()

    clear()
    yield
    clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layers():
    """Each test gets new channel-layer instances. A stream a test's server closed
    mid-receive leaves the Redis layer's receive lock held and bound to that
    test's event loop, and the next test (another loop) would trip on it; the
    in-memory layer would carry the groups over."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


_TRUNCATE_TRIGGERS_SQL = (
    "SELECT c.relname, t.tgname FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE t.tgname = ANY(%s) AND c.relname = ANY(%s)"
)


def _execute_sql_flush_history_included(original):
    """Django's flush on PostgreSQL, with the append-only tables' TRUNCATE
    triggers disabled for the flush's own transaction only: `ALTER TABLE ...
    DISABLE TRIGGER`, the TRUNCATE, `ENABLE TRIGGER` again, one transaction. No
    other session ever sees a table without its trigger (ALTER TABLE holds the
    table's exclusive lock until commit), and the row triggers stay on."""

    def execute_sql_flush(self, sql_list):
        from config.append_only import append_only_truncate_triggers

        tables, names = zip(*append_only_truncate_triggers(), strict=True)
        quote = self.quote_name
        with transaction.atomic(using=self.connection.alias):
            with self.connection.cursor() as cursor:
                cursor.execute(_TRUNCATE_TRIGGERS_SQL, [list(names), list(tables)])
                present = cursor.fetchall()
                for table, name in present:
                    cursor.execute(
                        f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(name)}"
                    )
            original(self, sql_list)
            with self.connection.cursor() as cursor:
                for table, name in present:
                    cursor.execute(
                        f"ALTER TABLE {quote(table)} ENABLE TRIGGER {quote(name)}"
                    )

    return execute_sql_flush


@pytest.fixture(scope="session", autouse=True)
def _flush_truncates_history():
    """Transactional tests (`transaction=True`, `transactional_db`, live servers)
    end with a flush that truncates every table, history included: only that
    flush, and only in the test process, may pass the TRUNCATE triggers."""
    original = DatabaseOperations.execute_sql_flush
    DatabaseOperations.execute_sql_flush = _execute_sql_flush_history_included(original)
    yield
    DatabaseOperations.execute_sql_flush = original


class CapturedMail:
    """Messages a real SMTP server (aiosmtpd, in this process) received."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd)
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message.envelope_recipients = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def __len__(self) -> int:
        return len(self.messages)

    def __getitem__(self, index: int):
        return self.messages[index]

    def __iter__(self):
        return iter(self.messages)

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]

    def body(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    def link(self, address: str, marker: str) -> str:
        """The last link containing `marker` in the newest message to `address`."""
        import re

        [*_, message] = self.to(address)
        links = re.findall(r"https?://\S+", self.body(message))
        return [link for link in links if marker in link][-1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend delivers to."""

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mail = CapturedMail()
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    try:
        yield mail
    finally:
        controller.stop()
