"""The rules every approval of money follows, written once: withdrawals and
adjustments both call `money_approver_check`, withdrawals also
`withdrawal_cooloff_check`, and every operator step checks its typed note with
`note_clean`."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from accounts.selectors import (
    staff_acted_on_user_recently,
    user_withdrawal_cooloff_until,
)
from config.domain_errors import ApplicationError, Forbidden
from wallet.errors import WalletErrorCode as Code

# An operator's note on each step of a withdrawal or adjustment: typed, not clicked.
NOTE_MIN_LENGTH = 10


def note_clean(note: str, *, field: str = "note") -> str:
    """The note stripped; 400 `note_required` naming `field` when it is shorter
    than NOTE_MIN_LENGTH characters."""
    text = (note or "").strip()
    if len(text) < NOTE_MIN_LENGTH:
        problem = f"Type at least {NOTE_MIN_LENGTH} characters."
        raise ApplicationError(
            Code.NOTE_REQUIRED, f"{field}: {problem}", details={field: [problem]}
        )
    return text[:255]


def withdrawal_cooloff_check(*, user: User) -> None:
    """403 `withdrawal_cooloff` while a staff action on the user's credentials
    keeps their withdrawals on hold (`user_withdrawal_cooloff_until`)."""
    until = user_withdrawal_cooloff_until(user=user)
    if until is None:
        return
    when = until.strftime("%Y-%m-%d %H:%M UTC")
    raise Forbidden(
        Code.WITHDRAWAL_COOLOFF,
        f"Withdrawals are on hold until {when}: a member of staff changed this "
        "account's credentials or contact details.",
        details={"cooloff_until": until.isoformat()},
    )


def money_approver_check(
    *, approver: User, user: User, requested_by: User | None = None
) -> None:
    """May `approver` approve money moving for `user`? Never for themselves (four
    eyes), never what they requested themselves, and not while the staff-action
    cool-off runs: a member of staff who acted on the user (locked them, changed
    their email, ended their sessions, ...) within BACKOFFICE_STAFF_ACTION_COOLOFF_HOURS
    may not approve that user's money (403 `staff_action_cooloff`)."""
    if approver.pk == user.pk:
        raise Forbidden(
            Code.FOUR_EYES, "Four eyes: you cannot approve your own money movements."
        )
    if requested_by is not None and approver.pk == requested_by.pk:
        raise Forbidden(
            Code.FOUR_EYES,
            "Four eyes: a second operator must approve what you requested.",
        )
    if staff_acted_on_user_recently(staff=approver, user=user):
        hours = settings.BACKOFFICE_STAFF_ACTION_COOLOFF_HOURS
        raise Forbidden(
            Code.STAFF_ACTION_COOLOFF,
            "You performed a staff action on this user in the last "
            f"{hours} hours: another operator must approve their money.",
        )
