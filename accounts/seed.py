"""Demo users for the embedded mode. Idempotent: running it again changes nothing
but topping up backup codes."""

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
    is_staff: bool = False
    is_superuser: bool = False


DEMO_USERS = (
    DemoUser("admin@example.com", "Ada Admin", (Role.OPERATOR,), True, True),
    DemoUser("reviewer@example.com", "Rita Reviewer", (Role.KYC_REVIEWER,), True),
    DemoUser("operator@example.com", "Otto Operator", (Role.OPERATOR,), True),
    DemoUser("operator2@example.com", "Olga Operator", (Role.OPERATOR,), True),
    DemoUser("support@example.com", "Sam Support", (Role.SUPPORT,), True),
    DemoUser("alice@example.com", "Alice Trader", (Role.TRADER,)),
    DemoUser("bob@example.com", "Bob Trader", (Role.TRADER,)),
)


def seed(*, out) -> None:
    out(f"Demo users (password for all: {DEMO_PASSWORD}):")
    for demo in DEMO_USERS:
        user = User.objects.filter(email__iexact=demo.email).first()
        if user is None:
            user = services.user_register(
                email=demo.email, password=DEMO_PASSWORD, full_name=demo.full_name
            )
            services.user_roles_set(
                user=user,
                roles=list(demo.roles),
                is_staff=demo.is_staff,
                is_superuser=demo.is_superuser,
            )
        line = f"  {demo.email:<24} {', '.join(r.value for r in demo.roles)}"
        if demo.is_staff:
            codes = services.backup_codes_ensure(user=user)
            line += (
                f"\n    admin second factor, one-time backup codes: {' '.join(codes)}"
            )
        out(line)
