"""Every admin write is a service: a walk over the whole admin registry (our apps
and the third-party ones).

Each registered ModelAdmin is either read-only (no add, change or delete, not even
for a superuser) or listed in ADMIN_WRITES with the services its writes go
through, and this test proves it by posting its forms as a superuser: the row
changes and the audit trail has the expected code, and delete is refused. Inlines
are read-only everywhere, every admin action is listed in ADMIN_ACTIONS with the
service it calls, and every view an admin adds to its URLs (a button on an
object's page, or a page that only reads) is listed in ADMIN_VIEWS. A new admin,
inline, action or view that is none of these fails here, naming itself; an entry
for one that is gone fails too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteMixin
from django.test import RequestFactory

from accounts.models import AuditCode, AuditEvent, RoleGrantRequest, User
from accounts.testing import admin_client_for
from calendars.models import Holiday, TradingCalendar
from config.tests.admin_data import first_row, one_of_each
from trading.models import FeeOverride, Instrument
from wallet.models import Adjustment, Asset

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Form:
    """One form post: the data, given the rows `one_of_each` made, and a check
    that the row is as the post asked."""

    data: Callable[[], dict]
    done: Callable[[], bool]


@dataclass(frozen=True)
class AdminWrite:
    services: tuple[str, ...]
    add: tuple[AuditCode, Form] | None = None
    change: tuple[AuditCode, Form] | None = None


def _asset_added() -> bool:
    return Asset.objects.filter(
        code="SOL", decimals=9, daily_withdrawal_limit=25 * 10**9
    ).exists()


def _fee_override_add() -> dict:
    return {
        "user": User.objects.get(email="alice@example.com").pk,
        "instrument": Instrument.objects.get(symbol="BTC-USD").pk,
        "maker_fee_bps": 3,
        "taker_fee_bps": 4,
    }


# Model -> the services its admin writes through, and a valid add / change post.
# A calendar's holidays are a read-only inline: its management form, empty.
_NO_HOLIDAY_FORMS = {
    "holidays-TOTAL_FORMS": "0",
    "holidays-INITIAL_FORMS": "0",
    "holidays-MIN_NUM_FORMS": "0",
    "holidays-MAX_NUM_FORMS": "1000",
}

ADMIN_WRITES: dict[str, AdminWrite] = {
    "accounts.User": AdminWrite(
        # No add (people sign up); the change form is name, email and phone with
        # a reason. A new email or phone is a STAFF_CONTACT_CHANGED; the email
        # itself changes when the user follows the link sent to it.
        services=("accounts.services.user_profile_update_by_staff",),
        change=(
            AuditCode.STAFF_CONTACT_CHANGED,
            Form(
                data=lambda: {
                    "email": "maker-corrected@example.com",
                    "full_name": "Maker Corrected",
                    "phone": "",
                    "reason": "registry walk: the user asked by phone",
                },
                done=lambda: (
                    User.objects.filter(full_name="Maker Corrected").exists()
                    and AuditEvent.objects.filter(
                        code=AuditCode.EMAIL_CHANGE_REQUESTED,
                        extra__new="maker-corrected@example.com",
                    ).exists()
                ),
            ),
        ),
    ),
    "accounts.RoleGrantRequest": AdminWrite(
        # Only the request is a form; approve, reject and cancel are buttons on
        # its page (ADMIN_VIEWS).
        services=("accounts.services.role_grant_request",),
        add=(
            AuditCode.ROLE_GRANT_REQUESTED,
            Form(
                data=lambda: {
                    "user": User.objects.get(email="bob@example.com").pk,
                    "role": "support",
                    "reason": "registry walk: bob joins support",
                },
                done=lambda: RoleGrantRequest.objects.filter(
                    user__email="bob@example.com",
                    role="support",
                    status=RoleGrantRequest.Status.REQUESTED,
                ).exists(),
            ),
        ),
    ),
    "wallet.Asset": AdminWrite(
        services=("wallet.services.asset_create", "wallet.services.asset_update"),
        add=(
            AuditCode.ASSET_CREATED,
            Form(
                data=lambda: {
                    "code": "SOL",
                    "name": "Solana",
                    "kind": "crypto",
                    "decimals": 9,
                    "is_active": "on",
                    "limit_text": "25",
                },
                done=_asset_added,
            ),
        ),
        change=(
            AuditCode.ASSET_UPDATED,
            Form(
                data=lambda: {"name": "Renamed asset", "limit_text": "7"},
                done=lambda: Asset.objects.filter(
                    name="Renamed asset", is_active=False
                ).exists(),
            ),
        ),
    ),
    "trading.Instrument": AdminWrite(
        services=(
            "trading.services.instrument_create",
            "trading.services.instrument_update",
        ),
        add=(
            AuditCode.INSTRUMENT_CREATED,
            Form(
                data=lambda: {
                    "symbol": "BTC-INR",
                    "base": Asset.objects.get(code="BTC").pk,
                    "quote": Asset.objects.get(code="USD").pk,
                    "tick_size_text": "1.00",
                    "lot_size_text": "0.01",
                    "min_quantity_text": "0",
                    "min_notional_text": "0",
                    "maker_fee_bps": 10,
                    "taker_fee_bps": 20,
                    "price_band_percent": 10,
                },
                done=lambda: Instrument.objects.filter(symbol="BTC-INR").exists(),
            ),
        ),
        change=(
            AuditCode.INSTRUMENT_UPDATED,
            Form(
                data=lambda: {
                    "min_quantity_text": "0.02",
                    "min_notional_text": "5.00",
                    "maker_fee_bps": 7,
                    "taker_fee_bps": 9,
                    "price_band_percent": 5,
                },
                done=lambda: Instrument.objects.filter(
                    maker_fee_bps=7, taker_fee_bps=9, min_notional=5_00
                ).exists(),
            ),
        ),
    ),
    "trading.FeeOverride": AdminWrite(
        services=(
            "trading.services.fee_override_set",
            "trading.services.fee_override_remove",
        ),
        add=(
            AuditCode.FEE_OVERRIDE_SET,
            Form(
                data=_fee_override_add,
                done=lambda: FeeOverride.objects.filter(
                    user__email="alice@example.com", maker_fee_bps=3, taker_fee_bps=4
                ).exists(),
            ),
        ),
        change=(
            AuditCode.FEE_OVERRIDE_SET,
            Form(
                data=lambda: {"maker_fee_bps": 1, "taker_fee_bps": 2},
                done=lambda: FeeOverride.objects.filter(
                    maker_fee_bps=1, taker_fee_bps=2
                ).exists(),
            ),
        ),
    ),
    "calendars.TradingCalendar": AdminWrite(
        services=("calendars.services.calendar_save",),
        add=(
            AuditCode.CALENDAR_SAVED,
            Form(
                data=lambda: {
                    "code": "xnse",
                    "name": "NSE-like",
                    "time_zone": "Asia/Kolkata",
                    "weekdays": ["0", "1", "2", "3", "4"],
                    "pre_open_start": "09:00",
                    "opening_auction_start": "09:08",
                    "continuous_start": "09:15",
                    "opening_random_seconds": "0",
                    "pre_close_start": "15:30",
                    "closing_auction_start": "15:40",
                    "close": "16:00",
                    "closing_random_seconds": "0",
                    **_NO_HOLIDAY_FORMS,
                },
                done=lambda: TradingCalendar.objects.filter(code="xnse").exists(),
            ),
        ),
        change=(
            AuditCode.CALENDAR_SAVED,
            Form(
                data=lambda: {
                    "code": "xetr",
                    "name": "Renamed calendar",
                    "time_zone": "Europe/Berlin",
                    "weekdays": ["0", "1", "2", "3", "4"],
                    "pre_open_start": "07:30",
                    "opening_auction_start": "08:50",
                    "continuous_start": "09:00",
                    "opening_random_seconds": "30",
                    "pre_close_start": "17:20",
                    "closing_auction_start": "17:30",
                    "close": "17:35",
                    "closing_random_seconds": "30",
                    **_NO_HOLIDAY_FORMS,
                },
                done=lambda: TradingCalendar.objects.filter(
                    name="Renamed calendar"
                ).exists(),
            ),
        ),
    ),
    "calendars.Holiday": AdminWrite(
        services=("calendars.services.holiday_save",),
        add=(
            AuditCode.HOLIDAY_SAVED,
            Form(
                data=lambda: {
                    "calendar": TradingCalendar.objects.get(code="xetr").pk,
                    "date": "2026-12-31",
                    "name": "New Year's Eve",
                    "early_close": "14:00",
                },
                done=lambda: Holiday.objects.filter(name="New Year's Eve").exists(),
            ),
        ),
        change=(
            AuditCode.HOLIDAY_SAVED,
            Form(
                data=lambda: {"date": "2026-12-25", "name": "Weihnachten"},
                done=lambda: Holiday.objects.filter(name="Weihnachten").exists(),
            ),
        ),
    ),
    "calendars.CalendarInstrument": AdminWrite(
        services=("calendars.services.instrument_calendar_set",),
        change=(
            AuditCode.INSTRUMENT_UPDATED,
            Form(
                data=lambda: {
                    "calendar": "",
                    "volatility_band_bps": "300",
                    "volatility_call_seconds": "60",
                    "volatility_random_seconds": "10",
                },
                done=lambda: Instrument.objects.filter(
                    calendar=None, volatility_band_bps=300
                ).exists(),
            ),
        ),
    ),
    "wallet.Adjustment": AdminWrite(
        services=("wallet.services.adjustment_request",),
        add=(
            AuditCode.ADJUSTMENT_REQUESTED,
            Form(
                data=lambda: {
                    "user": User.objects.get(email="bob@example.com").pk,
                    "asset": Asset.objects.get(code="USD").pk,
                    "amount_text": "12.34",
                    "reason": "registry walk",
                },
                done=lambda: Adjustment.objects.filter(
                    amount=12_34, reason="registry walk"
                ).exists(),
            ),
        ),
    ),
}

# Admin actions (bulk writes from the change list) -> the service each calls.
# Users, withdrawals, adjustments and role grants have none: each is decided on
# its own page, one at a time (see ADMIN_VIEWS).
ADMIN_ACTIONS: dict[str, dict[str, str]] = {
    "apikeys.ApiKey": {
        "revoke_selected": "apikeys.services.api_key_revoke_by_staff",
    },
    "calendars.Holiday": {"remove_selected": "calendars.services.holiday_delete"},
    "calendars.InstrumentSession": {
        "halt_selected": "calendars.services.session_halt",
        "extend_selected": "calendars.services.session_extend",
        "resume_selected": "calendars.services.session_resume",
    },
    "notifications.Delivery": {
        "retry": "notifications.services.delivery.delivery_retry",
    },
    "trading.Instrument": {
        "halt_selected": "trading.services.instrument_set_status",
        "resume_selected": "trading.services.instrument_set_status",
        "close_selected": "trading.services.instrument_set_status",
    },
    "trading.FeeOverride": {"remove_selected": "trading.services.fee_override_remove"},
    "trading.Order": {
        "cancel_selected": "trading.services.operator.order_cancel_by_operator"
    },
}

# Views an admin adds to its URLs -> the service each calls: the buttons on an
# object's page (each a POST acting on one object, permission-checked, with a
# reason or note; not admin actions) and, as None, pages that only read.
ADMIN_VIEWS: dict[str, dict[str, str | None]] = {
    "accounts.User": {
        "password_view": None,  # Django's password page, answering 404
        "lock_view": "accounts.services.user_lock",
        "unlock_view": "accounts.services.user_unlock",
        "end_sessions_view": "accounts.services.user_sessions_end",
        "clear_lockout_view": "accounts.services.user_login_lockout_clear",
        "reset_second_factor_view": "accounts.services.user_second_factor_reset_start",
        "send_password_reset_view": "accounts.services.user_password_reset_send",
        "revoke_role_view": "accounts.services.user_role_revoke",
    },
    "accounts.RoleGrantRequest": {
        "approve_view": "accounts.services.role_grant_approve",
        "reject_view": "accounts.services.role_grant_reject",
        "cancel_view": "accounts.services.role_grant_cancel",
    },
    "backoffice.LedgerVerification": {
        "verify_now_view": "backoffice.services.ledger_verification_request",
    },
    "backoffice.UserOverview": {"open_view": None},  # the user picker's target
    "kyc.KycCase": {
        "claim_next_view": "kyc.services.kyc_case_claim",
        "claim_view": "kyc.services.kyc_case_claim",
        "release_view": "kyc.services.kyc_case_release",
        "document_decide_view": "kyc.services.kyc_document_decide",
        "approve_view": "kyc.services.kyc_case_approve",
        "reject_view": "kyc.services.kyc_case_reject",
        "resubmission_view": "kyc.services.kyc_case_request_resubmission",
    },
    "reports.DailyFunding": {"export_csv": None},
    "reports.DailyKyc": {"export_csv": None},
    "reports.DailySignups": {"export_csv": None},
    "reports.DailyTrading": {"export_csv": None},
    "wallet.Adjustment": {
        "approve_view": "wallet.services.adjustment_approve",
        "reject_view": "wallet.services.adjustment_reject",
    },
    "wallet.Withdrawal": {
        "review_view": None,  # the review page (also at .../change/)
        "approve_view": "wallet.services.withdrawal_approve",
        "reject_view": "wallet.services.withdrawal_reject",
        "sent_view": "wallet.services.withdrawal_mark_sent",
        "completed_view": "wallet.services.withdrawal_complete",
        "failed_view": "wallet.services.withdrawal_fail",
    },
    "wallet.ReconciliationItem": {
        "resolve_view": "wallet.services.reconciliation_resolve",
    },
}

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
IDS = [model._meta.label for model, _ in REGISTRY]


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def _superuser() -> User:
    return User.objects.create_superuser(
        email="root@example.com", password="root-pass-123456"
    )


def _request_as(user: User):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _can_add(model_admin, request) -> bool:
    # InlineModelAdmin.has_add_permission takes obj; ModelAdmin's does not.
    try:
        return model_admin.has_add_permission(request)
    except TypeError:
        return model_admin.has_add_permission(request, None)


def _url(model, view: str, *args) -> str:
    from django.urls import reverse

    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def _form_errors(response) -> dict:
    """The admin form's errors, when the post came back as the form again."""
    context = getattr(response, "context", None)
    if context is None or "adminform" not in context:
        return {}
    return dict(context["adminform"].form.errors)


def _custom_views(model_admin) -> set[str]:
    """The views an admin adds to the URLs Django's ModelAdmin gives it."""
    standard = {str(url.pattern) for url in admin.ModelAdmin.get_urls(model_admin)}
    return {
        url.callback.__name__
        for url in model_admin.get_urls()
        if str(url.pattern) not in standard
    }


def test_every_listed_service_exists():
    for table in (ADMIN_WRITES, ADMIN_ACTIONS, ADMIN_VIEWS):
        unknown = sorted(set(table) - set(IDS))
        assert not unknown, f"{unknown}: not registered in the admin"
    for label, write in ADMIN_WRITES.items():
        for dotted in write.services:
            assert callable(_resolve(dotted)), f"{label}: {dotted}"
    for label, actions in ADMIN_ACTIONS.items():
        for action, dotted in actions.items():
            assert callable(_resolve(dotted)), f"{label}.{action}: {dotted}"
    for label, views in ADMIN_VIEWS.items():
        for view, dotted in views.items():
            if dotted is not None:
                assert callable(_resolve(dotted)), f"{label}.{view}: {dotted}"


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=IDS)
def test_admin_is_read_only_or_writes_through_listed_services(model, model_admin):
    label = model._meta.label
    request = _request_as(_superuser())
    can = {
        "add": _can_add(model_admin, request),
        "change": model_admin.has_change_permission(request),
        "delete": model_admin.has_delete_permission(request),
    }
    write = ADMIN_WRITES.get(label)
    if write is None:
        assert not any(can.values()), (
            f"{label} ({type(model_admin).__name__}) lets a superuser "
            f"{', '.join(k for k, v in can.items() if v)}: make it read-only, or "
            "save through a service that writes an audit event and list it in "
            "ADMIN_WRITES."
        )
        return
    assert not can["delete"], f"{label}: delete bypasses the services; turn it off"
    for kind in ("add", "change"):
        declared = getattr(write, kind) is not None
        assert can[kind] == declared, (
            f"{label}: the admin {'allows' if can[kind] else 'refuses'} {kind} but "
            f"ADMIN_WRITES {'declares' if declared else 'does not declare'} it"
        )


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=IDS)
def test_inlines_are_read_only(model, model_admin):
    request = _request_as(_superuser())
    for inline_class in model_admin.inlines:
        inline = inline_class(model, admin.site)
        writes = [
            kind
            for kind, allowed in (
                ("add", _can_add(inline, request)),
                ("change", inline.has_change_permission(request)),
                ("delete", inline.has_delete_permission(request)),
            )
            if allowed
        ]
        assert not writes, (
            f"{model._meta.label}: inline {inline_class.__name__} lets a superuser "
            f"{', '.join(writes)}; inlines write around the services"
        )


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=IDS)
def test_every_admin_action_is_listed_with_its_service(model, model_admin):
    label = model._meta.label
    actions = set(model_admin.get_actions(_request_as(_superuser())))
    assert "delete_selected" not in actions, f"{label}: bulk delete is on"
    listed = set(ADMIN_ACTIONS.get(label, {}))
    unlisted = sorted(actions - listed)
    assert not unlisted, (
        f"{label}: actions {unlisted} are not in ADMIN_ACTIONS; each must call a "
        "service that writes an audit event"
    )
    gone = sorted(listed - actions)
    assert not gone, f"{label}: ADMIN_ACTIONS lists {gone}, which the admin lacks"


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=IDS)
def test_every_custom_view_is_listed_with_its_service(model, model_admin):
    label = model._meta.label
    views = _custom_views(model_admin)
    listed = set(ADMIN_VIEWS.get(label, {}))
    unlisted = sorted(views - listed)
    assert not unlisted, (
        f"{label}: views {unlisted} are not in ADMIN_VIEWS; a button must call a "
        "service that writes an audit event (a page that only reads is listed "
        "as None)"
    )
    gone = sorted(listed - views)
    assert not gone, f"{label}: ADMIN_VIEWS lists {gone}, which the admin lacks"


@pytest.mark.parametrize("label", sorted(ADMIN_WRITES))
def test_listed_admin_writes_post_through_the_service_with_an_audit_event(label):
    # Given one row of everything and a superuser in the back office
    one_of_each()
    model = next(m for m, _ in REGISTRY if m._meta.label == label)
    write = ADMIN_WRITES[label]
    client = admin_client_for(_superuser())
    existing = first_row(model)
    for kind, url in (
        ("add", _url(model, "add")),
        ("change", _url(model, "change", existing.pk)),
    ):
        declared = getattr(write, kind)
        if declared is None:
            continue
        code, form = declared
        before = AuditEvent.objects.filter(code=code).count()
        assert not form.done(), f"{label} {kind}: the row is already as posted"
        # When the form is posted with valid data
        response = client.post(url, {**form.data(), "_save": "Save"})
        # Then the row changed and exactly one audit event of the code was added
        assert response.status_code == 302, (
            f"{label} {kind}: {response.status_code} {_form_errors(response)}"
        )
        assert form.done(), f"{label} {kind}: the row is not as posted"
        assert AuditEvent.objects.filter(code=code).count() == before + 1, (
            f"{label} {kind}: no {code.name} audit event"
        )
    # And delete is refused, page and post alike
    delete = _url(model, "delete", existing.pk)
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert model._default_manager.filter(pk=existing.pk).exists()


def test_user_pickers_are_autocomplete_fields_never_raw_ids():
    # Given one row of every model and a superuser
    one_of_each()
    request = _request_as(_superuser())
    wrong = []
    for model, model_admin in REGISTRY:
        label = model._meta.label
        forms_to_check = []
        if _can_add(model_admin, request):
            forms_to_check.append(("add", model_admin.get_form(request, None)))
        obj = first_row(model)
        if model_admin.has_change_permission(request, obj):
            forms_to_check.append(("change", model_admin.get_form(request, obj)))
        # Then every editable field that picks users searches them
        for kind, form_class in forms_to_check:
            for name, field in form_class.base_fields.items():
                if not isinstance(field, forms.ModelChoiceField):
                    continue
                if field.queryset.model is not User:
                    continue
                widget = getattr(field.widget, "widget", field.widget)
                if not isinstance(widget, AutocompleteMixin):
                    wrong.append(
                        f"{label} {kind} form: {name} is {type(widget).__name__}"
                    )
    assert wrong == [], "\n".join(wrong)
