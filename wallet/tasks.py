"""Celery entry points of the wallet (thin: ids in, one service call)."""

from __future__ import annotations

import logging
import urllib.request

from celery import shared_task
from django.conf import settings

from wallet.models import Deposit
from wallet.providers.sandbox import SandboxProvider

logger = logging.getLogger(__name__)


@shared_task(
    name="wallet.sandbox_webhook_send",
    acks_late=True,
    soft_time_limit=25,
    time_limit=30,
)
def sandbox_webhook_send(deposit_id: int, outcome: str) -> None:
    """Play the sandbox provider: sign a payment event and deliver it to our
    webhook. With `SANDBOX_WEBHOOK_URL` set it is a real HTTP POST to that URL;
    otherwise it is handed, with the same headers and raw body, to the function the
    webhook view calls (`deposit_webhook_process`), so the signature is checked
    either way. Safe to run twice: the webhook is idempotent."""
    from wallet.services import deposit_webhook_process

    deposit = Deposit.objects.select_related("asset").get(pk=deposit_id)
    headers, body = SandboxProvider().build_webhook(deposit=deposit, outcome=outcome)
    url = getattr(settings, "SANDBOX_WEBHOOK_URL", "")
    if url:
        if not url.startswith(("http://", "https://")):
            raise ValueError("SANDBOX_WEBHOOK_URL must be http(s)")
        request = urllib.request.Request(  # noqa: S310
            url, data=body, headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            logger.info("sandbox webhook %s -> %s", deposit_id, response.status)
        return
    deposit_webhook_process(provider="sandbox", headers=headers, body=body)


@shared_task(
    name="wallet.sandbox_payout_webhook_send",
    acks_late=True,
    soft_time_limit=25,
    time_limit=30,
)
def sandbox_payout_webhook_send(reference: str) -> None:
    """Play the sandbox payout rail's bank: it pays, unless
    SANDBOX_PAYOUT_OUTCOME is "failed", and signs the news to our payout
    webhook (handed in-process, like the deposit sandbox's). Idempotent."""
    from wallet.providers.payouts import SandboxPayout
    from wallet.services import payout_webhook_process

    paid = getattr(settings, "SANDBOX_PAYOUT_OUTCOME", "paid") != "failed"
    headers, body = SandboxPayout().build_webhook(
        reference=reference,
        paid=paid,
        reason="" if paid else "The beneficiary bank returned the payment.",
    )
    payout_webhook_process(provider="sandbox", headers=headers, body=body)


@shared_task(name="wallet.reconcile_daily", acks_late=True)
def reconcile_daily() -> dict[str, int]:
    """The beat's daily reconciliation of yesterday (wallet.services.reconciliation)."""
    from wallet.services import reconcile_yesterday

    return reconcile_yesterday()
