"""Print a new VAPID key pair for Web Push, in the form the settings take."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management.base import BaseCommand


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def vapid_key_pair() -> tuple[str, str]:
    """(public, private): the uncompressed P-256 point browsers take as
    `applicationServerKey`, and the 32-byte private scalar; both base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(public), _b64url(private)


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair for Web Push (WEBPUSH_VAPID_PUBLIC_KEY, "
        "WEBPUSH_VAPID_PRIVATE_KEY). Changing keys unsubscribes every browser."
    )

    def handle(self, *args, **options) -> None:
        public, private = vapid_key_pair()
        self.stdout.write(f"WEBPUSH_VAPID_PUBLIC_KEY={public}\n")
        self.stdout.write(f"WEBPUSH_VAPID_PRIVATE_KEY={private}\n")
        self.stdout.write("WEBPUSH_VAPID_SUBJECT=mailto:ops@example.com\n")
