"""`manage.py bootstrap_administrators EMAIL [EMAIL ...]`: the first
administrators of a fresh install.

In the back office a role is granted only when a second administrator approves
another's request, so an install needs two administrators before that works.
This command gives the administrator role to users who already signed up, and
only while fewer than two administrators exist; after that, roles go through
the four-eyes request. Audited (ROLE_GRANTED, no acting user, via bootstrap).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services
from accounts.models import User
from accounts.roles import Role, sync_role_permissions


class Command(BaseCommand):
    help = "Make the first administrators of a fresh install (fewer than two exist)."

    def add_arguments(self, parser):
        parser.add_argument("emails", nargs="+", metavar="EMAIL")

    def handle(self, *args, emails, **options):
        with transaction.atomic():
            sync_role_permissions()
            existing = User.objects.filter(groups__name=Role.ADMINISTRATOR).count()
            if existing >= 2:
                raise CommandError(
                    f"{existing} administrators exist already: grant roles in the "
                    "back office (a request that another administrator approves)."
                )
            for email in emails:
                user = User.objects.filter(email__iexact=email.strip()).first()
                if user is None:
                    raise CommandError(f"{email}: no such user (sign up first).")
                roles = {
                    Role(name)
                    for name in user.groups.values_list("name", flat=True)
                    if name in Role._value2member_map_
                }
                services.user_roles_bootstrap(
                    user=user, roles=sorted(roles | {Role.ADMINISTRATOR})
                )
                self.stdout.write(f"{user.email} is an administrator.")
