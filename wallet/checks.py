"""System checks: refuse to run with a second-approval threshold that is not a
plain non-negative decimal string (it would otherwise fail at approval time)."""

import re

from django.conf import settings
from django.core.checks import Error, register

_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@register()
def wallet_second_approval_threshold_check(app_configs, **kwargs):
    thresholds = settings.WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER
    if not isinstance(thresholds, dict):
        return [
            Error(
                "WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER must map asset codes to "
                "amounts.",
                hint="e.g. WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER=USD=10000,BTC=1",
                id="wallet.E001",
            )
        ]
    return [
        Error(
            f"WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER[{code}]={value!r} is not a "
            "non-negative decimal amount in whole units.",
            hint="e.g. WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER=USD=10000,BTC=0.5",
            id="wallet.E002",
        )
        for code, value in thresholds.items()
        if not _DECIMAL.match(str(value).strip())
    ]
