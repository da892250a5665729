"""One way to change a status (config/transitions.py): every declared table, and
the helper that checks a move, saves it, writes its history row and records its
event, or refuses it and writes nothing."""

from dataclasses import dataclass

import pytest

from accounts.models import RoleGrantRequest
from accounts.roles import Role
from accounts.testing import make_user
from config.errors import ApplicationError, http_status
from config.models import StatusHistory
from config.tests.recording import recorded
from config.transitions import transition, transition_check
from kyc.models import DocumentStatus, KycCase, KycDocument, KycStatus
from trading.models import Order
from trading.transitions import ORDER_TRANSITIONS, order_transition_check
from wallet import services
from wallet.models import (
    Adjustment,
    AdjustmentStatusChange,
    Beneficiary,
    Deposit,
    Withdrawal,
)
from wallet.tests.helpers import make_asset

TABLES = [
    ("deposit", Deposit.TRANSITIONS, Deposit.Status.values),
    ("withdrawal", Withdrawal.TRANSITIONS, Withdrawal.Status.values),
    ("adjustment", Adjustment.TRANSITIONS, Adjustment.Status.values),
    ("beneficiary", Beneficiary.TRANSITIONS, Beneficiary.Status.values),
    ("role grant", RoleGrantRequest.TRANSITIONS, RoleGrantRequest.Status.values),
    ("kyc case", KycCase.TRANSITIONS, KycStatus.values),
    ("kyc document", KycDocument.TRANSITIONS, DocumentStatus.values),
    ("order", ORDER_TRANSITIONS, Order.Status.values),
]


@pytest.mark.parametrize(
    ("name", "table", "statuses"), TABLES, ids=[name for name, *_ in TABLES]
)
def test_each_table_names_every_status_and_only_statuses(name, table, statuses):
    assert sorted(table) == sorted(statuses)
    for targets in table.values():
        assert set(targets) <= set(statuses)


def test_the_tables_as_the_docs_show_them():
    def moves(table):
        return {str(old): sorted(map(str, new)) for old, new in table.items()}

    assert moves(Deposit.TRANSITIONS) == {
        "pending": ["credited", "failed"],
        "credited": [],
        "failed": [],
    }
    assert moves(Withdrawal.TRANSITIONS) == {
        "requested": ["approved", "cancelled", "first_approved", "rejected"],
        "first_approved": ["approved", "cancelled", "rejected"],
        "approved": ["rejected", "sent"],
        "sent": ["completed", "failed"],
        "completed": [],
        "failed": [],
        "rejected": [],
        "cancelled": [],
    }
    assert moves(KycCase.TRANSITIONS)["in_review"] == [
        "approved",
        "rejected",
        "resubmission_requested",
        "submitted",
    ]
    assert moves(KycDocument.TRANSITIONS)["superseded"] == []
    assert moves(ORDER_TRANSITIONS) == {
        "pending": ["cancelled", "expired", "filled", "open", "rejected"],
        "open": ["cancelled", "expired", "filled", "partially_filled"],
        "partially_filled": ["cancelled", "expired", "filled"],
        "filled": [],
        "cancelled": [],
        "rejected": [],
        "expired": [],
    }


def test_transition_check_allows_declared_moves_and_refuses_the_rest():
    table = {"a": ("b",), "b": ()}
    transition_check(table=table, old="a", new="b")
    for old, new in [("b", "a"), ("a", "a"), ("a", "c"), ("c", "b")]:
        with pytest.raises(ApplicationError) as info:
            transition_check(table=table, old=old, new=new)
        assert (info.value.code, http_status(info.value)) == ("invalid_transition", 409)
        assert info.value.details == {"status": [old]}


def test_order_moves_once_final_are_refused():
    order_transition_check(old="pending", new="open")
    order_transition_check(old="open", new="partially_filled")
    order_transition_check(old="partially_filled", new="filled")
    for old, new in [
        ("filled", "open"),
        ("partially_filled", "open"),
        ("cancelled", "filled"),
        ("open", "rejected"),
        ("pending", "partially_filled"),
    ]:
        with pytest.raises(ApplicationError) as info:
            order_transition_check(old=old, new=new)
        assert info.value.code == "invalid_transition"


@dataclass(frozen=True)
class Moved:
    pk: int
    old: str
    new: str


@pytest.fixture
def adjustment(db):
    usd = make_asset("USD", 2)
    user = make_user(email="user@example.com")
    operator = make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)
    return services.adjustment_request(
        user=user, asset=usd, amount=250, reason="goodwill", operator=operator
    )


def _move(adjustment, to, checker):
    return transition(
        obj=adjustment,
        to=to,
        history=AdjustmentStatusChange,
        fields={"decided_by": checker},
        history_fields={"acting_user": checker, "note": "checked"},
        event=lambda obj, old: Moved(obj.pk, old, obj.status),
    )


def test_an_allowed_move_saves_the_fields_writes_history_records_the_event(
    adjustment,
):
    checker = make_user(email="checker@example.com", roles=(Role.OPERATOR,))
    before = adjustment.updated_at
    with recorded(Moved) as seen:
        old = _move(adjustment, Adjustment.Status.REJECTED, checker)
    assert old == "pending"
    stored = Adjustment.objects.get(pk=adjustment.pk)
    assert (stored.status, stored.decided_by) == ("rejected", checker)
    assert stored.updated_at > before
    assert list(
        stored.history.values_list("old_status", "new_status", "acting_user", "note")
    ) == [("", "pending", adjustment.requested_by_id, ""),
          ("pending", "rejected", checker.pk, "checked")]  # fmt: skip
    assert seen == [Moved(adjustment.pk, "pending", "rejected")]


def test_a_forbidden_move_raises_and_writes_nothing(adjustment):
    checker = make_user(email="checker@example.com", roles=(Role.OPERATOR,))
    _move(adjustment, Adjustment.Status.REJECTED, checker)
    other = make_user(email="other@example.com", roles=(Role.OPERATOR,))
    with recorded(Moved) as seen, pytest.raises(ApplicationError) as info:
        _move(adjustment, Adjustment.Status.APPROVED, other)
    assert info.value.code == "invalid_transition"
    assert str(info.value) == "status: cannot go from rejected to approved."
    stored = Adjustment.objects.get(pk=adjustment.pk)
    assert (stored.status, stored.decided_by) == ("rejected", checker)
    assert stored.history.count() == 2
    assert seen == []


def test_history_rows_are_append_only_in_python_on_every_database(adjustment):
    row = adjustment.history.get()
    row.note = "rewritten"
    with pytest.raises(ValueError):
        row.save()
    with pytest.raises(ValueError):
        row.delete()
    with pytest.raises(ValueError):
        AdjustmentStatusChange.objects.update(note="x")
    with pytest.raises(ValueError):
        AdjustmentStatusChange.objects.all().delete()
    assert str(row) == "- -> pending"


def test_every_status_history_shares_the_base():
    from django.apps import apps

    histories = sorted(
        model._meta.label
        for model in apps.get_models()
        if issubclass(model, StatusHistory)
    )
    assert histories == [
        "accounts.RoleGrantRequestStatusChange",
        "calendars.SessionTransition",
        "kyc.KycStatusEvent",
        "trading.OrderStatusChange",
        "wallet.AdjustmentStatusChange",
        "wallet.BeneficiaryStatusChange",
        "wallet.DepositStatusChange",
        "wallet.WithdrawalStatusChange",
    ]
