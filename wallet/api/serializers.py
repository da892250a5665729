"""Input and output shapes of the wallet API. Money is a decimal string both ways;
the conversion to units happens in wallet.money, called by the views."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from wallet.destinations import PayoutRail, destination_display
from wallet.models import Journal, Withdrawal
from wallet.money import format_units


class DecimalStringField(serializers.CharField):
    """A decimal amount as a JSON string ("10.50"). JSON numbers are refused: they
    lose precision in many clients. The text reaches `wallet.money.to_units`
    untouched (no trimming: DRF's would strip NBSP and other Unicode spaces too), so
    the syntax is decided in that one place."""

    default_error_messages = {
        "not_string": 'Send the amount as a decimal string, e.g. "10.50".'
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs["trim_whitespace"] = False
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_string")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "example": "10.50"})
class MoneyField(serializers.Field):
    """Read-only: integer units of `<source>` formatted at the asset's precision
    (the instance's `asset`)."""

    def __init__(self, *, asset_path: str | None = "asset", **kwargs):
        kwargs["read_only"] = True
        self.asset_path = asset_path
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        asset = (
            instance if self.asset_path is None else getattr(instance, self.asset_path)
        )
        return value, asset.decimals

    def to_representation(self, value):
        units, decimals = value
        return None if units is None else format_units(units, decimals)


class AssetCodeField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 16)
        super().__init__(**kwargs)


# --- Inputs -------------------------------------------------------------------------


class DepositInputSerializer(serializers.Serializer):
    asset = AssetCodeField()
    amount = DecimalStringField()
    provider = serializers.CharField(
        max_length=32,
        required=False,
        help_text="A payment provider enabled here (sandbox, stripe, razorpay); "
        "the deployment's default when absent. Any other is a 400 "
        "`unknown_provider` on this field.",
    )


class OtpField(serializers.CharField):
    """A TOTP code or a backup code; required when the user has a second factor."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)


class WithdrawalInputSerializer(serializers.Serializer):
    asset = AssetCodeField()
    amount = DecimalStringField()
    beneficiary = serializers.IntegerField(
        min_value=1,
        help_text="Id of one of your confirmed beneficiaries whose cool-off is over.",
    )
    otp = OtpField()


class BeneficiaryInputSerializer(serializers.Serializer):
    rail = serializers.ChoiceField(choices=PayoutRail.choices)
    destination = serializers.CharField(
        max_length=200,
        trim_whitespace=True,
        help_text=(
            "IBAN; Indian account number and IFSC separated by a space; UPI id; "
            "Bitcoin or Ethereum address."
        ),
    )
    # The API's field named `label`: DRF's metaclass takes declared fields off the
    # class, so it does not replace `Field.label` as the stubs believe.
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=64, required=False, allow_blank=True
    )


class BeneficiaryConfirmInputSerializer(serializers.Serializer):
    otp = OtpField()
    token = serializers.CharField(
        max_length=512,
        required=False,
        allow_blank=True,
        help_text="The token of the emailed link (when two-factor is off).",
    )


class TransferInputSerializer(serializers.Serializer):
    to = serializers.EmailField(max_length=254)
    asset = AssetCodeField()
    amount = DecimalStringField()
    note = serializers.CharField(max_length=140, required=False, allow_blank=True)


class AlertInputSerializer(serializers.Serializer):
    minimum = DecimalStringField()


class StatementQuerySerializer(serializers.Serializer):
    asset = AssetCodeField(required=False)
    kind = serializers.ChoiceField(choices=Journal.Kind.choices, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"date_to": ["Must not be before date_from."]}
            )
        return attrs


# --- Outputs ------------------------------------------------------------------------


class AssetOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    decimals = serializers.IntegerField()
    kind = serializers.CharField()
    is_active = serializers.BooleanField()
    daily_withdrawal_limit = MoneyField(asset_path=None)


class BalanceOutputSerializer(serializers.Serializer):
    asset = serializers.CharField(source="asset.code")
    name = serializers.CharField(source="asset.name")
    decimals = serializers.IntegerField(source="asset.decimals")
    available = MoneyField()
    held = MoneyField()
    total = MoneyField()
    minimum = MoneyField(allow_null=True, help_text="null: no alert set.")
    below_minimum = serializers.BooleanField()
    owed = MoneyField(
        help_text="Owed after a refund or chargeback of a deposit already spent: "
        "while above zero, trading and withdrawals are refused "
        "(`account_restricted`) and the next deposit repays it first."
    )


class DepositOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    asset = serializers.CharField(source="asset.code")
    amount = MoneyField()
    status = serializers.CharField()
    provider = serializers.CharField()
    provider_reference = serializers.CharField()
    checkout_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_checkout_url(self, deposit) -> str:
        request = self.context.get("request")
        if not deposit.checkout_url or deposit.status != "pending":
            return ""
        if request is not None:
            return request.build_absolute_uri(deposit.checkout_url)
        return deposit.checkout_url


class WithdrawalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    asset = serializers.CharField(source="asset.code")
    amount = MoneyField()
    beneficiary = serializers.IntegerField(source="beneficiary_id", allow_null=True)
    rail = serializers.CharField()
    destination = serializers.CharField()
    status = serializers.ChoiceField(
        choices=Withdrawal.Status.choices,
        help_text="requested -> [first_approved ->] approved -> sent -> completed | "
        "failed (funds returned); or rejected / cancelled (funds released).",
    )
    reason = serializers.CharField()
    payout_reference = serializers.CharField(
        help_text="The payout rail's reference, from `sent` on; empty before."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)


class BeneficiaryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rail = serializers.CharField()
    rail_label = serializers.CharField(source="get_rail_display")
    label = serializers.CharField()  # type: ignore[assignment]  # see above
    destination = serializers.CharField()
    destination_display = serializers.SerializerMethodField()
    status = serializers.CharField()
    usable = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    usable_from = serializers.DateTimeField(allow_null=True)

    def get_destination_display(self, beneficiary) -> str:
        return destination_display(
            rail=beneficiary.rail, destination=beneficiary.destination
        )

    def get_usable(self, beneficiary) -> bool:
        return beneficiary.is_usable()


class TransferOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    direction = serializers.SerializerMethodField()
    counterparty = serializers.SerializerMethodField()
    asset = serializers.CharField(source="asset.code")
    amount = MoneyField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()

    def _me(self):
        return self.context["user"]

    def get_direction(self, transfer) -> str:
        return "sent" if transfer.sender_id == self._me().pk else "received"

    def get_counterparty(self, transfer) -> str:
        if transfer.sender_id == self._me().pk:
            return transfer.recipient.email
        return transfer.sender.email


class AlertOutputSerializer(serializers.Serializer):
    asset = serializers.CharField(source="asset.code")
    minimum = MoneyField()
    updated_at = serializers.DateTimeField()


class StatementEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    asset = serializers.CharField(source="account.asset.code")
    account = serializers.CharField(source="account.kind")
    kind = serializers.CharField(source="journal.kind")
    reference = serializers.CharField(source="journal.reference")
    amount = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()

    def get_amount(self, entry) -> str:
        return format_units(entry.amount, entry.account.asset.decimals)

    def get_balance_after(self, entry) -> str:
        return format_units(entry.balance_after, entry.account.asset.decimals)

    def get_description(self, entry) -> str:
        from wallet.selectors import entry_description

        return entry_description(entry, user=self.context["user"])


class WebhookOutputSerializer(serializers.Serializer):
    event = serializers.CharField(source="event_id")
    outcome = serializers.CharField(help_text="applied, deferred or ignored")
    deposit = serializers.IntegerField(source="deposit_id", allow_null=True)
    status = serializers.SerializerMethodField(
        help_text="The deposit's status after the event (null without one)."
    )

    def get_status(self, record) -> str | None:
        return record.deposit.status if record.deposit_id else None


class PayoutWebhookOutputSerializer(serializers.Serializer):
    event = serializers.CharField(source="event_id")
    outcome = serializers.CharField(help_text="applied or ignored")
    reference = serializers.CharField()
