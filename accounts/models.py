from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.managers import UserManager
from accounts.roles import BACK_OFFICE_ROLES
from config.append_only import append_only_triggers
from config.models import StatusChange


class User(AbstractBaseUser, PermissionsMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed by the user"

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=150)
    phone = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Bumped on password change and suspension: tokens carrying an older value in
    # their "ver" claim are refused at once, not when their lifetime runs out.
    token_version = models.PositiveIntegerField(default=0)
    # The versions of the legal documents this user last accepted (the history is
    # in ConsentRecord); a newer current version asks again at the next sign-in.
    terms_version = models.CharField(max_length=32, blank=True)
    privacy_version = models.CharField(max_length=32, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # None until the owner follows the link sent to the address (self-signup);
    # KYC, deposits and trading wait for it (accounts.guards).
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # An IANA zone name ("Asia/Kolkata") the pages and messages show times in;
    # empty until the user picks one (pages then use the browser's, emails UTC).
    time_zone = models.CharField(max_length=64, blank=True)
    # The asset code ("USD", "INR") the home page values the user's holdings in;
    # empty: the platform's default (HOME_DEFAULT_CURRENCY).
    display_currency = models.CharField(max_length=16, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        permissions = [
            ("suspend_user", "Can lock and unlock a user's account"),
            ("end_user_sessions", "Can end a user's sessions and tokens"),
            ("reset_second_factor", "Can reset a user's second factor"),
            ("clear_login_lockout", "Can clear a user's login lockout"),
            ("send_password_reset", "Can send a user a password reset link"),
        ]

    def __str__(self) -> str:
        return self.email

    def _get_session_auth_hash(self, secret=None):
        # Django keeps a browser session only while this hash matches the one
        # stored at login. Folding in `token_version` makes one bump end every
        # session as well as every JWT (staff actions, suspension, password
        # change; a view that must keep its own session calls
        # `update_session_auth_hash`). Django's public get_session_auth_hash and
        # its fallback-secret variant both come through here.
        key_salt = "accounts.models.User.get_session_auth_hash"
        return salted_hmac(
            key_salt,
            f"{self.password}:{self.token_version}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == self.Status.ACTIVE

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class AuditCode(models.IntegerChoices):
    """Stable numeric codes, grouped by area. Never renumber; only add."""

    # 1xx accounts and security
    USER_REGISTERED = 100, "User registered"
    LOGIN_SUCCEEDED = 101, "Login succeeded"
    LOGIN_FAILED = 102, "Login failed"
    LOGIN_LOCKED_OUT = 103, "Login locked out"
    LOGOUT = 104, "Logged out (token revoked)"
    PASSWORD_CHANGED = 105, "Password changed"
    TWO_FACTOR_ENABLED = 106, "Two-factor enabled"
    TWO_FACTOR_DISABLED = 107, "Two-factor disabled"
    TOKENS_REVOKED = 108, "All tokens revoked"
    PROFILE_UPDATED = 109, "Profile updated"
    TOKEN_REFRESH_REUSED = 110, "Rotated refresh token reused"
    PASSWORD_RESET_REQUESTED = 111, "Password reset requested"
    PASSWORD_RESET_COMPLETED = 112, "Password reset completed"
    EMAIL_VERIFIED = 113, "Email address verified"
    EMAIL_CHANGE_REQUESTED = 114, "Email change requested"
    EMAIL_CHANGED = 115, "Email changed"
    RECOVERY_CODES_GENERATED = 116, "Recovery codes generated"
    RECOVERY_CODE_USED = 117, "Recovery code used"
    PASSKEY_ADDED = 118, "Passkey added"
    PASSKEY_REMOVED = 119, "Passkey removed"
    SESSION_ENDED = 120, "Session ended by the user"
    OTHER_SESSIONS_ENDED = 121, "Other sessions ended by the user"
    NEW_DEVICE_SIGN_IN = 122, "Sign-in from a new device"
    TERMS_ACCEPTED = 123, "Terms and privacy notice accepted"
    DATA_EXPORTED = 124, "Personal data exported"
    ACCOUNT_CLOSED = 125, "Account closed"
    EMAIL_VERIFICATION_SENT = 126, "Email verification link sent"
    API_KEY_CREATED = 130, "API key created"
    API_KEY_UPDATED = 131, "API key updated"
    API_KEY_REVOKED = 132, "API key revoked"
    # 2xx KYC
    KYC_PROFILE_UPDATED = 200, "KYC profile updated"
    KYC_DOCUMENT_UPLOADED = 201, "KYC document uploaded"
    KYC_DOCUMENT_DELETED = 202, "KYC document deleted"
    KYC_SUBMITTED = 203, "KYC submitted"
    KYC_CLAIMED = 204, "KYC case claimed"
    KYC_RELEASED = 205, "KYC case released"
    KYC_DOCUMENT_DECIDED = 206, "KYC document decided"
    KYC_APPROVED = 207, "KYC approved"
    KYC_REJECTED = 208, "KYC rejected"
    KYC_RESUBMISSION_REQUESTED = 209, "KYC resubmission requested"
    KYC_FIRST_APPROVAL = 210, "KYC first approval (second pending)"
    KYC_DOCUMENT_VIEWED = 211, "KYC document viewed"
    # 3xx wallet
    DEPOSIT_CREATED = 300, "Deposit created"
    DEPOSIT_CREDITED = 301, "Deposit credited"
    DEPOSIT_FAILED = 302, "Deposit failed"
    DEPOSIT_REVERSED = 303, "Deposit refunded or lost in a dispute"
    RECONCILIATION_RESOLVED = 305, "Reconciliation mismatch resolved"
    WITHDRAWAL_REQUESTED = 310, "Withdrawal requested"
    WITHDRAWAL_APPROVED = 311, "Withdrawal approved"
    WITHDRAWAL_REJECTED = 312, "Withdrawal rejected"
    WITHDRAWAL_CANCELLED = 313, "Withdrawal cancelled"
    WITHDRAWAL_FIRST_APPROVAL = 314, "Withdrawal first approval (second pending)"
    WITHDRAWAL_SENT = 315, "Withdrawal sent to the payout rail"
    WITHDRAWAL_COMPLETED = 316, "Withdrawal completed"
    WITHDRAWAL_FAILED = 317, "Withdrawal failed (funds returned)"
    WITHDRAWAL_CONFIRMED = 318, "Withdrawal confirmed by the user"
    TRANSFER_SENT = 320, "Transfer sent"
    ADJUSTMENT_REQUESTED = 330, "Adjustment requested"
    ADJUSTMENT_APPROVED = 331, "Adjustment approved"
    ADJUSTMENT_REJECTED = 332, "Adjustment rejected"
    BALANCE_ALERT_SET = 340, "Balance alert set"
    BENEFICIARY_ADDED = 350, "Beneficiary added"
    BENEFICIARY_CONFIRMED = 351, "Beneficiary confirmed"
    BENEFICIARY_REMOVED = 352, "Beneficiary removed"
    ASSET_CREATED = 360, "Asset created"
    ASSET_UPDATED = 361, "Asset updated"
    # 4xx trading
    INSTRUMENT_CREATED = 400, "Instrument created"
    INSTRUMENT_UPDATED = 401, "Instrument updated"
    INSTRUMENT_HALTED = 402, "Instrument halted"
    INSTRUMENT_RESUMED = 403, "Instrument resumed"
    INSTRUMENT_CLOSED = 404, "Instrument closed"
    ORDER_CANCELLED_BY_OPERATOR = 410, "Order cancelled by operator"
    BOOK_CROSSED_ON_REBUILD = 420, "Rebuilt book crossed: instrument halted"
    FEE_OVERRIDE_SET = 430, "Fee override set"
    FEE_OVERRIDE_REMOVED = 431, "Fee override removed"
    CALENDAR_SAVED = 440, "Trading calendar saved"
    HOLIDAY_SAVED = 441, "Trading holiday saved"
    HOLIDAY_REMOVED = 442, "Trading holiday removed"
    SESSION_HALTED = 445, "Trading phase halted"
    SESSION_EXTENDED = 446, "Trading phase extended"
    SESSION_RESUMED = 447, "Trading phase resumed"
    # 7xx notifications
    NOTIFICATION_DELIVERY_RETRIED = 700, "Notification delivery sent again by staff"
    # 9xx admin
    USER_SUSPENDED = 900, "User suspended"
    USER_REACTIVATED = 901, "User reactivated"
    ROLE_GRANTED = 902, "Role granted"
    ROLE_REVOKED = 903, "Role revoked"
    ROLE_GRANT_REQUESTED = 904, "Role grant requested (second administrator pending)"
    ROLE_GRANT_REJECTED = 905, "Role grant request rejected"
    STAFF_SESSIONS_ENDED = 906, "Sessions and tokens ended by staff"
    STAFF_CONTACT_CHANGED = 907, "Email or phone changed by staff"
    STAFF_SECOND_FACTOR_RESET = 908, "Second factor reset by staff"
    STAFF_PASSWORD_RESET_SENT = 909, "Password reset link sent by staff"
    STAFF_ACCOUNT_LOCKED = 910, "Account locked by staff"
    STAFF_ACCOUNT_UNLOCKED = 911, "Account unlocked by staff"
    STAFF_SECOND_FACTOR_RESET_STARTED = (
        912,
        "Second factor reset started by staff (KYC check pending)",
    )
    STAFF_API_KEY_REVOKED = 913, "API key revoked by staff"
    ADMIN_OBJECT_CHANGED = 920, "Back-office record changed"
    LEDGER_VERIFICATION_FAILED = 930, "Ledger verification failed"


SECURITY_CODES = [code for code in AuditCode if 100 <= code < 200]
# A member of staff who did one of these to a user may not approve that user's
# withdrawals or adjustments during the cool-off (BACKOFFICE_STAFF_ACTION_COOLOFF).
STAFF_ACTION_CODES = frozenset(code for code in AuditCode if 900 <= code < 920)
# Staff actions on a user's credentials, email, phone or second factor: each puts
# the user's withdrawals on a cool-off (BACKOFFICE_CREDENTIAL_COOLOFF_HOURS).
CREDENTIAL_STAFF_CODES = frozenset(
    {
        AuditCode.STAFF_SESSIONS_ENDED,
        AuditCode.STAFF_CONTACT_CHANGED,
        AuditCode.STAFF_SECOND_FACTOR_RESET,
        AuditCode.STAFF_PASSWORD_RESET_SENT,
        AuditCode.STAFF_ACCOUNT_LOCKED,
        AuditCode.STAFF_ACCOUNT_UNLOCKED,
    }
)


class AuditEvent(models.Model):
    """Append-only: who did what to whom. Written by services, never edited."""

    code = models.PositiveSmallIntegerField(choices=AuditCode.choices, db_index=True)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events_acted",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        help_text="The affected user.",
    )
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["user", "-created_at", "-id"])]
        triggers = append_only_triggers()

    def __str__(self) -> str:
        return f"{self.get_code_display()} ({self.code})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class LegalDocument(models.TextChoices):
    TERMS = "terms", "Terms of service"
    PRIVACY = "privacy", "Privacy notice"


class ConsentRecord(models.Model):
    """Append-only: a user accepted this version of a legal document, from where."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents"
    )
    document = models.CharField(max_length=16, choices=LegalDocument.choices)
    version = models.CharField(max_length=32)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["user", "-created_at"])]
        triggers = append_only_triggers()

    def __str__(self) -> str:
        return f"{self.document} {self.version}"


class IdempotencyKey(models.Model):
    """A write request's key and its first successful response (Idempotency-Key)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=128)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "key"], name="idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class RoleGrantRequest(models.Model):
    """Four eyes on power: one administrator asks for a back-office role for a
    user, a different administrator (never the requester, never the user)
    approves or rejects it. Statuses change only through `accounts.services`."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for a second administrator"
        APPROVED = "approved", "Approved (role granted)"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled by the requester"

    TRANSITIONS = {
        Status.REQUESTED: (Status.APPROVED, Status.REJECTED, Status.CANCELLED),
        Status.APPROVED: (),
        Status.REJECTED: (),
        Status.CANCELLED: (),
    }
    ROLE_CHOICES = [(role.value, role.value) for role in BACK_OFFICE_ROLES]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="role_grant_requests",
        help_text="Who would get the role.",
    )
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=255)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(status="requested"),
                name="role_grant_one_open_request",
            ),
            models.CheckConstraint(
                condition=~models.Q(requested_by=models.F("user")),
                name="role_grant_not_for_oneself",
            ),
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requested_by")),
                name="role_grant_four_eyes",
            ),
        ]
        permissions = [
            ("grant_role", "Can request, approve and revoke back-office roles"),
        ]

    def __str__(self) -> str:
        return f"{self.role} for {self.user} ({self.status})"


class RoleGrantRequestStatusChange(StatusChange):
    """Append-only history of a role grant request's status."""

    request = models.ForeignKey(
        RoleGrantRequest, on_delete=models.PROTECT, related_name="history"
    )
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )


class SignIn(models.Model):
    """Where the account is signed in: one browser session or one API refresh-token
    family (every token rotated from one login). Ended rows stay, so a device
    seen before is known (accounts/services/sessions.py)."""

    class Kind(models.TextChoices):
        WEB = "web", "Browser session"
        API = "api", "API tokens"

    public_id = models.UUIDField(unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_ins"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # web: the Django session's key (kept current when it cycles)
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    # api: the jti of the family's newest refresh token
    refresh_jti = models.CharField(max_length=255, blank=True)
    device_fingerprint = models.CharField(max_length=64)
    device = models.CharField(max_length=200)
    user_agent = models.CharField(max_length=512, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ("-last_seen_at", "-id")
        indexes = [
            models.Index(fields=["user", "ended_at"]),
            models.Index(fields=["user", "device_fingerprint"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.device}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
