import socket
import time

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.testing import make_user


def totp_code(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def user(db):
    return make_user(email="trader@example.com", full_name="Tina Trader")


@pytest.fixture
def user_with_2fa(user):
    device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)
    return user, device


class CapturedMail:
    """Messages a real SMTP server (aiosmtpd, in this process) received."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd)
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message.envelope_recipients = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def __len__(self) -> int:
        return len(self.messages)

    def __getitem__(self, index: int):
        return self.messages[index]

    def __iter__(self):
        return iter(self.messages)

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]

    def body(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    def link(self, address: str, marker: str) -> str:
        """The last link containing `marker` in the newest message to `address`."""
        import re

        [*_, message] = self.to(address)
        links = re.findall(r"https?://\S+", self.body(message))
        return [link for link in links if marker in link][-1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend delivers to."""

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mail = CapturedMail()
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    try:
        yield mail
    finally:
        controller.stop()
