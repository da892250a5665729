"""Which tables are append-only, and that nothing but the test flush can switch
their triggers off. (The tampering itself is tried in test_tamper.py, on
PostgreSQL.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.append_only import append_only_models

PROTECTED = [
    "accounts.AuditEvent",
    "accounts.ConsentRecord",
    "accounts.RoleGrantRequestStatusChange",
    "calendars.SessionTransition",
    "kyc.KycStatusEvent",
    "trading.Fill",
    "trading.OrderStatusChange",
    "trading.Trade",
    "wallet.AdjustmentStatusChange",
    "wallet.BeneficiaryStatusChange",
    "wallet.DepositReversal",
    "wallet.DepositStatusChange",
    "wallet.Entry",
    "wallet.Journal",
    "wallet.WithdrawalStatusChange",
]


def test_the_protected_tables_are_exactly_the_history_tables():
    assert [m._meta.label for m in append_only_models()] == PROTECTED


def test_a_history_row_protects_its_parent_from_deletion():
    # a status change points at its order / deposit / withdrawal / adjustment
    # with PROTECT: deleting the parent would otherwise cascade into history
    for model in append_only_models():
        for field in model._meta.concrete_fields:
            if field.is_relation:
                assert field.remote_field.on_delete.__name__ == "PROTECT", (
                    model._meta.label,
                    field.name,
                )


@pytest.mark.django_db
def test_on_sqlite_there_are_no_triggers_only_the_model_guards():
    if connection.vendor != "sqlite":
        pytest.skip("the embedded database (SQLite) only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert cursor.fetchall() == []


def test_no_application_code_can_switch_the_triggers_off():
    """Only the test suite's flush (the root conftest) disables a trigger; no
    module the application loads sets pgtrigger's ignore switch or replication
    mode."""
    root = Path(settings.BASE_DIR)
    needles = re.compile(
        r"DISABLE TRIGGER|pgtrigger\.ignore|session_replication_role", re.I
    )
    sources = [root / "manage.py"] + [
        path
        for top in root.iterdir()
        if top.is_dir() and not top.is_symlink() and not top.name.startswith(".")
        for path in top.rglob("*.py")
        if "tests" not in path.relative_to(root).parts
    ]
    offenders = [
        str(path.relative_to(root))
        for path in sources
        if path.name != "conftest.py"
        and path != root / "config" / "append_only.py"  # its docstring names them
        and needles.search(path.read_text())
    ]
    assert len(sources) > 100
    assert offenders == []
