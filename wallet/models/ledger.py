"""The ledger: assets, accounts, journals, entries and holds.

Only `wallet.ledger` writes these rows (balances, entries, hold amounts). The
database enforces what it can: non-negative balances for every account but the
outside world, one journal per (kind, reference), non-zero entries, hold amounts that
always add up.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from config.append_only import append_only_triggers
from config.references import RefuseDeleteWhileReferenced, StatementReferences
from wallet.destinations import validate_payout_rails


class Asset(models.Model):
    class Kind(models.TextChoices):
        FIAT = "fiat", "Fiat"
        CRYPTO = "crypto", "Crypto"
        SECURITY = "security", "Security"

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=64)
    decimals = models.PositiveSmallIntegerField(
        help_text="Smallest unit is 10^-decimals; fixed once the asset exists."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    is_active = models.BooleanField(default=True)
    daily_withdrawal_limit = models.BigIntegerField(
        default=0, help_text="Per user per UTC day, in smallest units; 0 = no limit."
    )
    payout_rails = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_payout_rails],
        help_text=(
            "Rails withdrawals of this asset pay out on (wallet.destinations."
            'PayoutRail values, e.g. ["bank_iban"]); empty = not withdrawable.'
        ),
    )

    class Meta:
        ordering = ("code",)
        constraints = [
            models.CheckConstraint(
                condition=Q(decimals__lte=18), name="asset_decimals_lte_18"
            ),
            models.CheckConstraint(
                condition=Q(daily_withdrawal_limit__gte=0),
                name="asset_daily_limit_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z0-9]{2,16}$"), name="asset_code_format"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Account(models.Model):
    class Kind(models.TextChoices):
        # a user's accounts
        AVAILABLE = "available", "Available"
        HELD = "held", "Held"
        # what the user owes the platform (a refund or a lost dispute of a
        # deposit already spent): never above zero; while below, the user may
        # not trade or withdraw (wallet.selectors.wallet_restricted)
        RECEIVABLE = "receivable", "Receivable (owed by the user)"
        # system accounts (no owner)
        EXTERNAL = "external", "External (outside world)"
        FEES = "fees", "Fees"

    USER_KINDS = (Kind.AVAILABLE, Kind.HELD, Kind.RECEIVABLE)
    SYSTEM_KINDS = (Kind.EXTERNAL, Kind.FEES)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_accounts",
    )
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "asset", "kind"],
                condition=Q(owner__isnull=False),
                name="account_unique_user",
            ),
            models.UniqueConstraint(
                fields=["asset", "kind"],
                condition=Q(owner__isnull=True),
                name="account_unique_system",
            ),
            models.CheckConstraint(
                condition=(
                    Q(owner__isnull=False, kind__in=["available", "held", "receivable"])
                    | Q(owner__isnull=True, kind__in=["external", "fees"])
                ),
                name="account_kind_matches_owner",
            ),
            # Only the outside world and a user's debt may go negative: no code
            # path can overdraw.
            models.CheckConstraint(
                condition=Q(kind__in=["external", "receivable"]) | Q(balance__gte=0),
                name="account_balance_non_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind="receivable") | Q(balance__lte=0),
                name="account_receivable_non_positive",
            ),
        ]
        # entries name accounts without a foreign key (see Entry)
        triggers = [
            RefuseDeleteWhileReferenced(
                name="entries_refuse_delete", by="wallet.Entry", field="account"
            )
        ]

    def __str__(self) -> str:
        who = self.owner_id and f"user {self.owner_id}" or "system"
        return f"{who} {self.asset_id and self.asset.code} {self.kind}"


class Journal(models.Model):
    """One atomic movement: its entries sum to zero per asset. Never edited."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        TRANSFER = "transfer", "Transfer"
        ADJUSTMENT = "adjustment", "Adjustment"
        HOLD = "hold", "Hold placed"
        RELEASE = "release", "Hold released"
        TRADE = "trade", "Trade"
        FEE = "fee", "Fee"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    reference = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "reference"], name="journal_unique_reference"
            )
        ]
        triggers = append_only_triggers()

    def __str__(self) -> str:
        return f"{self.kind}:{self.reference}"


class Entry(models.Model):
    """One leg of a journal. `balance_after` is the account's balance right after
    this entry, written while the account row was locked, so a statement shows an
    exact running balance on any page."""

    # Both references are checked once per INSERT statement, not per row
    # (config/references.py): a ledger batch writes thousands of entries.
    # The account's own index would repeat the two below that lead with it.
    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        db_index=False,
    )
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_non_zero")
        ]
        indexes = [
            models.Index(
                fields=["account", "created_at"], name="entry_account_created"
            ),
            models.Index(fields=["account", "id"], name="entry_account_id"),
        ]
        triggers = [
            *append_only_triggers(),
            StatementReferences(name="references", fields=("journal", "account")),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+d}"


class Hold(models.Model):
    """A reservation (TigerBeetle's pending transfer): funds moved `available ->
    held` for an owner such as an order or a withdrawal, later posted out (whole or
    in parts) or released. `amount = posted + released + remaining`, always."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Voided"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds"
    )
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="holds")
    held_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="holds"
    )
    available_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+"
    )
    reference_kind = models.CharField(max_length=32)
    reference_id = models.CharField(max_length=64)
    amount = models.BigIntegerField(default=0, help_text="Total ever held.")
    posted_amount = models.BigIntegerField(default=0)
    released_amount = models.BigIntegerField(default=0)
    remaining_amount = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference_kind", "reference_id"], name="hold_unique_reference"
            ),
            models.CheckConstraint(
                condition=Q(remaining_amount__gte=0)
                & Q(posted_amount__gte=0)
                & Q(released_amount__gte=0)
                & Q(remaining_amount__lte=F("amount")),
                name="hold_amounts_in_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    amount=F("posted_amount")
                    + F("released_amount")
                    + F("remaining_amount")
                ),
                name="hold_amounts_add_up",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(remaining_amount=0),
                name="hold_closed_has_nothing_left",
            ),
        ]
        indexes = [
            models.Index(fields=["held_account", "status"], name="hold_account_status")
        ]

    def __str__(self) -> str:
        return f"hold {self.reference_kind}:{self.reference_id} ({self.status})"
