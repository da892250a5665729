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
