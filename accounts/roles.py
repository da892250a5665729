"""Roles are Django groups; this table is the single place that says what each may do.

Patterns are `app_label.codename` with shell wildcards, so a permission added by a
later migration joins its role when that app's migration calls
`sync_role_permissions` (or `manage.py seed_demo` runs).
"""

from __future__ import annotations

from enum import StrEnum
from fnmatch import fnmatchcase


class Role(StrEnum):
    TRADER = "trader"
    KYC_REVIEWER = "kyc_reviewer"
    SUPPORT = "support"
    OPERATOR = "operator"
    ADMINISTRATOR = "administrator"


# Roles that open the back office (the admin): holding any of them makes a user
# staff. Granting one is a request that a second administrator approves.
BACK_OFFICE_ROLES: tuple[Role, ...] = (
    Role.KYC_REVIEWER,
    Role.SUPPORT,
    Role.OPERATOR,
    Role.ADMINISTRATOR,
)


ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    # Traders use the pages and the API; they have no back-office permission.
    Role.TRADER: (),
    # Reviewers see KYC and nothing of wallets or orders.
    Role.KYC_REVIEWER: ("kyc.view_*", "kyc.change_*", "kyc.review_*"),
    Role.SUPPORT: (
        "accounts.view_user",
        "accounts.end_user_sessions",
        "accounts.send_password_reset",
        "accounts.clear_login_lockout",
        # starts a second-factor reset; a KYC reviewer's approval finishes it
        "accounts.reset_second_factor",
        "accounts.view_auditevent",
        "axes.view_*",
        "kyc.view_kyccase",
        "wallet.view_*",
        "trading.view_*",
        "calendars.view_*",
        "backoffice.view_ledgerverification",
        "reports.view_*",
        # a user's API keys: see them, and revoke one that leaked (with a reason)
        "apikeys.view_apikey",
        "apikeys.revoke_apikey",
    ),
    Role.OPERATOR: (
        "accounts.view_user",
        "accounts.change_user",
        "accounts.suspend_user",
        "accounts.end_user_sessions",
        "accounts.send_password_reset",
        "accounts.clear_login_lockout",
        "accounts.view_auditevent",
        "wallet.view_*",
        "wallet.add_adjustment",
        "wallet.approve_*",
        "wallet.change_asset",
        "wallet.add_asset",
        "trading.*",
        # calendars, holidays, and halting, extending or resuming a phase
        "calendars.*",
        "marketdata.*",
        "backoffice.view_ledgerverification",
        "backoffice.run_ledgerverification",
        "reports.view_*",
        "apikeys.view_apikey",
    ),
    # Administrators look after people: users' contact data and accounts, second
    # factors, and who holds which role (granting one takes a second
    # administrator). They move no money and decide no KYC.
    Role.ADMINISTRATOR: (
        "accounts.view_user",
        "accounts.change_user",
        "accounts.suspend_user",
        "accounts.end_user_sessions",
        "accounts.send_password_reset",
        "accounts.reset_second_factor",
        "accounts.clear_login_lockout",
        "accounts.grant_role",
        "accounts.view_rolegrantrequest",
        "accounts.add_rolegrantrequest",
        "accounts.view_auditevent",
        "auth.view_group",
        "auth.view_permission",
        "axes.view_*",
        "apikeys.view_apikey",
        "apikeys.revoke_apikey",
    ),
}


def sync_role_permissions(apps=None) -> None:
    """Create the groups and give each every permission its patterns match.

    Works in data migrations (pass the historical `apps`) and at run time.
    """
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = list(
        permission_model.objects.select_related("content_type").order_by("pk")
    )
    for role, patterns in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        wanted = [
            permission
            for permission in permissions
            if any(
                fnmatchcase(
                    f"{permission.content_type.app_label}.{permission.codename}",
                    pattern,
                )
                for pattern in patterns
            )
        ]
        group.permissions.set(wanted)
