"""Demo users for the embedded mode. Idempotent: running it again changes nothing
but topping up backup codes (and giving demo staff their roles if these changed)."""

from __future__ import annotations

from dataclasses import dataclass

from accounts import services
from accounts.models import User
from accounts.roles import Role

DEMO_PASSWORD = "exchange-demo-pass"


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    roles: tuple[Role, ...]


# Staff get their roles here directly (user_roles_bootstrap); in the back office a
# role is granted only by one administrator's request and another's approval, so
# the demo has two administrators. Nobody is a superuser: that takes
# `manage.py createsuperuser`.
DEMO_USERS = (
    DemoUser("admin@example.com", "Ada Admin", (Role.ADMINISTRATOR, Role.OPERATOR)),
    DemoUser("admin2@example.com", "Abe Admin", (Role.ADMINISTRATOR,)),
    DemoUser("reviewer@example.com", "Rita Reviewer", (Role.KYC_REVIEWER,)),
    DemoUser("operator@example.com", "Otto Operator", (Role.OPERATOR,)),
    DemoUser("operator2@example.com", "Olga Operator", (Role.OPERATOR,)),
    DemoUser("support@example.com", "Sam Support", (Role.SUPPORT,)),
    DemoUser("alice@example.com", "Alice Trader", (Role.TRADER,)),
    DemoUser("bob@example.com", "Bob Trader", (Role.TRADER,)),
)


def seed(*, out) -> None:
    out(f"Demo users (password for all: {DEMO_PASSWORD}):")
    for demo in DEMO_USERS:
        user = User.objects.filter(email__iexact=demo.email).first()
        if user is None:
            user = services.user_register(
                email=demo.email,
                password=DEMO_PASSWORD,
                full_name=demo.full_name,
                accept_terms=True,
                email_verified=True,
            )
        # also brings an older demo database's staff up to today's roles
        user = services.user_roles_bootstrap(user=user, roles=list(demo.roles))
        line = f"  {demo.email:<24} {', '.join(r.value for r in demo.roles)}"
        if user.is_staff:
            codes = services.backup_codes_ensure(user=user)
            line += (
                f"\n    admin second factor, one-time backup codes: {' '.join(codes)}"
            )
        out(line)
