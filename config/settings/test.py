"""Test settings: fast hashing, no throttling surprises, private media in a tmp dir."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, PASSWORD_HASHERS, REST_FRAMEWORK

SECRET_KEY = "test-only-secret-key-0123456789abcdef0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Argon2 stays the production hasher (asserted in tests); MD5 keeps the suite fast.
PRODUCTION_PASSWORD_HASHERS = PASSWORD_HASHERS
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="exchange-test-static-"))
MEDIA_ROOT = tempfile.mkdtemp(prefix="exchange-test-media-")
# A live server started by a test (config/tests/test_api_fuzz.py) reads the files
# the test process stored: it passes its own directory down.
PRIVATE_MEDIA_ROOT = os.environ.get("TEST_PRIVATE_MEDIA_ROOT") or tempfile.mkdtemp(
    prefix="exchange-test-private-"
)
STORAGES["kyc"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
}
KYC_ENCRYPTION_KEY = "dGVzdC1vbmx5LWt5Yy1rZXktMDEyMzQ1Njc4OWFiY2Q="
API_KEY_ENCRYPTION_KEY = "dGVzdC1vbmx5LWFwaS1rZXktMDEyMzQ1Njc4OWFiY2Q="
KYC_HIGH_RISK_COUNTRIES = []
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "anon": "100000/min",
        "user": "100000/min",
        "login": "100000/min",
        "register": "100000/min",
        "orders": "100000/min",
    },
}
CELERY_TASK_ALWAYS_EAGER = True
# seed_demo's trade history (192 trades) only where a test asks for it
# (marketdata/tests/test_history.py): the other seed_demo callers stay fast.
DEMO_HISTORY_DAYS = 0
# Tests open and close connections themselves (threads, transactional flushes).
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
# No exponential back-off between OTP attempts: tests check codes back to back.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
SANDBOX_PAYMENTS_ENABLED = True
SANDBOX_WEBHOOK_SECRET = "test-only-sandbox-webhook-secret"
SANDBOX_WEBHOOK_URL = ""
# Web Push on (as the sandbox payments are): a test-only VAPID pair, so the
# subscription endpoints answer as in production (devices tests set their own).
WEBPUSH_VAPID_PUBLIC_KEY = (
    "BPqLlnXGQAgLsIoTSMRMSnhxcCzdzxiW4plO8rp5ZXCz6T74pV_NoacRr333RDTT"
    "lJoK_BPucNN-u86QUge1yqc"
)
WEBPUSH_VAPID_PRIVATE_KEY = "183Muex6p2SIWY9pzRfiBQc2phgzlw7ivck0zE84arg"
WEBPUSH_VAPID_SUBJECT = "mailto:ops@example.com"
