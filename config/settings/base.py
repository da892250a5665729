"""Settings shared by every running mode.

Every integration is off unless its environment variable is set: with no environment
at all the platform runs embedded (SQLite, in-memory channel layer, eager Celery).
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
# Old keys still accepted for sessions and signed links during a rotation
# (docs/operations.md, "Rotating secrets"); JWTs use SECRET_KEY alone.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    # Swagger UI and ReDoc bundles as static files (SPECTACULAR_SETTINGS), no CDN
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # passkeys as a second factor (accounts/views_factors.py)
    "django_otp_webauthn",
    "csp",
    "axes",
    "channels",
    # history tables append-only in the database (config/append_only.py)
    "pgtrigger",
    # HTTP, database and cache metrics for Prometheus (config/metrics.py has ours)
    "django_prometheus",
    "accounts",
    "kyc",
    "wallet",
    "trading",
    "marketdata",
    "backoffice",
    "reports",
    "privacy",
    "notifications",
    # SMS, Web Push, mobile push: those channels' senders (notification-channels.md)
    "devices",
    # API keys and signed requests (docs/api-keys.md)
    "apikeys",
    # trading calendars and each instrument's phase (docs/sessions.md)
    "calendars",
    # last: wires the domain events once every app is ready (config/subscribers.py)
    "config.apps.PlatformConfig",
]

MIDDLEWARE = [
    # outermost: the request's id, in the log context and on every response
    # (config/request_id.py)
    "config.request_id.RequestIdMiddleware",
    # then: the body limit before anything reads a body; one error shape under
    # /api/ (config/middleware.py, docs/api-edges.md)
    "config.middleware.APIEdgeMiddleware",
    # second and (almost) last: HTTP metrics by view, method and status (the
    # edge's own 413s are not counted; its 503s are, made inside)
    "config.metrics_middleware.PrometheusBeforeMiddleware",
    # then: the client address, resolved once from TRUSTED_PROXIES
    "config.clientip.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (config/csp.py, settings below)
    "config.csp.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # the lean API path: an /api/ request without a session cookie jumps from here
    # to PageMiddlewareEnd, past the page-only block (config/api_path.py)
    "config.api_path.APIPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # an ended sign-in logs its session out; last seen kept (accounts/middleware.py)
    "accounts.middleware.SignInMiddleware",
    # a signed-in user with a new version of the terms to accept sees that first
    "accounts.middleware.ConsentMiddleware",
    # the reader's time zone for every page (accounts/timezones.py)
    "accounts.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",
    # the end of the page-only block
    "config.api_path.PageMiddlewareEnd",
    # a refused login answers 429, the API's token login too (accounts/lockout.py)
    "accounts.lockout.LoginLockoutMiddleware",
    "config.metrics_middleware.PrometheusAfterMiddleware",
    # last: keeps the chain sync, one thread hop per request (see the class)
    "config.middleware.SyncMiddlewareChain",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
# Requests that run their code at once in one ASGI server process (the others wait
# on its event loop, bodies read): few threads sharing the GIL finish, and release
# their row locks, sooner (config/threads.py). 0: no limit. More where the
# database is far away and requests mostly wait for it.
ASGI_REQUEST_THREADS = env.int("ASGI_REQUEST_THREADS", 2)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
# Embedded default: SQLite in WAL mode with IMMEDIATE transactions, so writers queue
# on the database lock instead of failing with "database is locked" mid-transaction.
SQLITE_PATH = env("SQLITE_PATH", default=str(VAR_DIR / "db.sqlite3"))
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    # Parameters sent apart from the SQL, so psycopg prepares a statement it has run
    # DB_PREPARE_THRESHOLD (5) times on a connection and PostgreSQL stops parsing
    # and planning it again (see docs/trading.md, "Speed"). Django leaves psycopg's
    # preparing off unless told a threshold. Off behind a transaction-pooling
    # PgBouncer older than 1.21 (no prepared statements there).
    if env.bool("DB_SERVER_SIDE_BINDING", default=True):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["server_side_binding"] = True
        options["prepare_threshold"] = env.int("DB_PREPARE_THRESHOLD", 5)
    if env.bool("DB_POOL", default=True):
        # psycopg 3's pool: under ASGI each request may run in its own thread, so
        # persistent per-thread connections (CONN_MAX_AGE) leak; a pool does not.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # Django hands the pool `check=ConnectionPool.check_connection` when
        # health checks are on (a `check` of our own in the options would be
        # passed twice): each connection is tried before it is handed out, so
        # after a PostgreSQL restart no request gets a dead one.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN", 2),
            "max_size": env.int("DB_POOL_MAX", 16),
            "timeout": env.int("DB_POOL_TIMEOUT", 10),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", 60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    Path(SQLITE_PATH).parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }
# PostgreSQL's queries counted and timed for Prometheus: django-prometheus's
# subclass of the same backend (docs/operations.md, "Metrics"). The embedded
# SQLite mode has no Prometheus to read them.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channel layer, Celery ----------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # the shared-pool cache, its gets counted for Prometheus
            "BACKEND": "config.cache.MeteredSharedRedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis's, with a receive that ends when cancelled
            # (config/channel_layers.py)
            "BACKEND": "config.channel_layers.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, the same
                # as channels-redis's blocking pop (5 s): an idle receive then
                # times out client-side, reconnects, and can drop a popped
                # message. Reads must be allowed to outlast the pop.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                # The default capacity (100) silently drops group messages under
                # fan-out; streams are sequenced and resync, but drops stay rare.
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", 2000),
                "expiry": 30,
            },
        }
    }
    # Market data fan-out (marketdata.hub): Redis Pub/Sub, one PUBLISH per frame
    # and one subscription per server process, read in bulk. The default layer's
    # receive costs four Redis round trips per message on the server's event loop.
    # Pub/Sub ignores the database number: the prefix keeps databases apart.
    CHANNEL_LAYERS["marketdata"] = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": env(
                "CHANNEL_LAYER_PUBSUB_PREFIX",
                default="asgi-" + (REDIS_URL.rsplit("/", 1)[-1] or "0") + ":",
            ),
        },
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
        "marketdata": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    }

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"

# --- Metrics (docs/operations.md, "Metrics") --------------------------------------
# /metrics answers requests from these networks (the resolved client address:
# config/clientip.py) without a token, and anyone with `Authorization: Bearer
# <METRICS_TOKEN>`; others get a 401 (a token is configured) or a 403.
METRICS_TRUSTED_NETWORKS = env(
    "METRICS_TRUSTED_NETWORKS", default="127.0.0.0/8,::1/128"
)
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Auth -----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": (
            "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
        ),
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:security"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- Client address, login lockout -----------------------------------------------
# Which peers may say who the client is (config/clientip.py): empty, nobody (the
# TCP peer is the client; X-Forwarded-For is ignored); a number, that many proxies
# of ours in front of every request; or comma-separated CIDRs of our proxies.
TRUSTED_PROXIES = env("TRUSTED_PROXIES", default="")

# Login lockout per (account, client address) with growing delays
# (accounts/lockout.py): after LOGIN_LOCKOUT_FAILURES wrong passwords from one
# address for one account, that pair waits LOGIN_LOCKOUT_DELAY_SECONDS; each
# further failure doubles the wait, up to LOGIN_LOCKOUT_MAX_DELAY_SECONDS.
# Failures are forgotten LOGIN_LOCKOUT_FORGET_HOURS after the last one, or at
# once on a successful login from that address.
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", 5)
LOGIN_LOCKOUT_DELAY_SECONDS = env.int("LOGIN_LOCKOUT_DELAY_SECONDS", 60)
LOGIN_LOCKOUT_MAX_DELAY_SECONDS = env.int("LOGIN_LOCKOUT_MAX_DELAY_SECONDS", 3600)
LOGIN_LOCKOUT_FORGET_HOURS = env.int("LOGIN_LOCKOUT_FORGET_HOURS", 24)

# Password reset and email verification (accounts/services/recovery.py). A reset
# link works once and for PASSWORD_RESET_TIMEOUT seconds (Django's token
# generator); a verification link for EMAIL_VERIFICATION_TIMEOUT seconds. Asking
# for either is limited per client address and per account (email): "N/period",
# period one of s, m, h, d; the next ask waits, 429 with Retry-After.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", 3600)
PASSWORD_RESET_RATE_PER_ADDRESS = env("PASSWORD_RESET_RATE_PER_ADDRESS", default="10/h")
PASSWORD_RESET_RATE_PER_ACCOUNT = env("PASSWORD_RESET_RATE_PER_ACCOUNT", default="3/h")
EMAIL_VERIFICATION_TIMEOUT = env.int("EMAIL_VERIFICATION_TIMEOUT", 3 * 24 * 3600)
EMAIL_VERIFICATION_RATE_PER_ADDRESS = env(
    "EMAIL_VERIFICATION_RATE_PER_ADDRESS", default="10/h"
)
EMAIL_VERIFICATION_RATE_PER_ACCOUNT = env(
    "EMAIL_VERIFICATION_RATE_PER_ACCOUNT", default="3/h"
)

# django-axes only records failed logins (by the resolved address) for support to
# read in the admin; the lockout decision is accounts/lockout.py's.
AXES_LOCK_OUT_AT_FAILURE = False
AXES_CLIENT_IP_CALLABLE = "config.clientip.client_ip"
AXES_COOLOFF_TIME = timedelta(hours=LOGIN_LOCKOUT_FORGET_HOURS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# /ws/user/ authenticates with a single-use ticket from POST /api/v1/stream-tickets
# (or the session cookie): it must be used within this many seconds.
STREAM_TICKET_SECONDS = env.int("STREAM_TICKET_SECONDS", 30)

OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Exchange")
OTP_TOTP_THROTTLE_FACTOR = 1

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    # JWT for API clients; the session (with its CSRF check) for the browser pages,
    # which call the same API from JavaScript.
    # API keys first: a signed request (X-Api-Key) or nothing (docs/api-keys.md).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apikeys.authentication.ApiKeyAuthentication",
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        # an API key's scopes: read, trade (api_key_scope), withdraw
        "apikeys.permissions.ApiKeyScopePermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        # DRF's, with nesting bounded and a RecursionError a 400 (config/parsers.py)
        "config.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    # Usage limits per user, per API key, per address (anonymous), with the
    # X-RateLimit-* headers (config/throttling.py, docs/rate-limits.md)
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.UsageRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),
        "user": env("THROTTLE_USER", default="1200/min"),
        "api_key": env("THROTTLE_API_KEY", default="600/min"),
        "login": env("THROTTLE_LOGIN", default="20/min"),
        "register": env("THROTTLE_REGISTER", default="10/min"),
        # order writes, a batch counting one per order
        "orders": env("THROTTLE_ORDERS", default="50/s"),
        "orders_api_key": env("THROTTLE_API_KEY_ORDERS", default="1200/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Request bodies over this many bytes are refused (413) before they are read, on
# every route but the uploads (KYC documents: KYC_MAX_UPLOAD_BYTES plus the
# multipart envelope). config/middleware.py, docs/api-edges.md.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", 1024 * 1024)
# JSON bodies nested deeper than this are a 400 parse_error (config/parsers.py).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", 32)
# The Retry-After of a 503 when the database or Redis is unreachable.
API_UNAVAILABLE_RETRY_AFTER_SECONDS = env.int("API_UNAVAILABLE_RETRY_AFTER_SECONDS", 5)

# --- API keys (apikeys/, docs/api-keys.md) -----------------------------------------
# A Fernet key (`Fernet.generate_key()`) for the HMAC secrets at rest; older keys,
# still able to decrypt during a rotation, in API_KEY_ENCRYPTION_OLD_KEYS.
API_KEY_ENCRYPTION_KEY = env("API_KEY_ENCRYPTION_KEY", default="")
API_KEY_ENCRYPTION_OLD_KEYS = env.list("API_KEY_ENCRYPTION_OLD_KEYS", default=[])
# How far a request's X-Api-Timestamp may be from the server's clock (ms): the
# default, and the largest X-Api-Window a client may ask for.
API_KEY_DEFAULT_WINDOW_MS = env.int("API_KEY_DEFAULT_WINDOW_MS", 5000)
API_KEY_MAX_WINDOW_MS = env.int("API_KEY_MAX_WINDOW_MS", 60000)
# Keys a user may hold at once (revoked and expired ones do not count).
API_KEY_MAX_PER_USER = env.int("API_KEY_MAX_PER_USER", 20)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", 5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Exchange API",
    "DESCRIPTION": (
        "Retail exchange API. Money is always a decimal string; errors are "
        '`{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # /api/docs/ loads Swagger UI from our own /static/ (drf-spectacular-sidecar),
    # never a CDN: config/csp.py then allows no extra origin on that page.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # one name for a choice set used by several fields (drf_spectacular.W001)
    "ENUM_NAME_OVERRIDES": {
        "SessionPhaseEnum": "marketdata.api.serializers.SESSION_PHASES",
    },
    # every operation documents the edges' error statuses (config/openapi.py)
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.error_responses_postprocess",
        # the X-RateLimit-* headers on every response (docs/rate-limits.md)
        "config.openapi.rate_limit_headers_postprocess",
    ],
}

# --- Passkeys (django-otp-webauthn; docs/accounts.md "Second factors") ---------------
# The relying party is the site's domain (no scheme, no port): passkeys registered
# under one RP ID work only there. The allowed origins are the exact origins the
# pages are served from (scheme, host, port). A second factor only: no
# passwordless login.
OTP_WEBAUTHN_RP_ID = env("WEBAUTHN_RP_ID", default="localhost")
OTP_WEBAUTHN_RP_NAME = env("WEBAUTHN_RP_NAME", default="Exchange")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list(
    "WEBAUTHN_ALLOWED_ORIGINS", default=["http://localhost:8000"]
)
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

# --- Content-Security-Policy (django-csp 4, config/csp.py) ------------------------
# Pages: scripts and <style> elements only from this origin or carrying the
# request's nonce (`nonce="{{ request.csp_nonce }}"`), never 'unsafe-inline' or
# 'unsafe-eval'; no inline event handlers. config/csp.py adds the page's own
# WebSocket origin to connect-src, allows style attributes under /admin/ only, and
# gives non-HTML responses (the API) `default-src 'none'`.
# CSP_REPORT_ONLY=true sends the same policy as Content-Security-Policy-Report-Only
# (browsers report, nothing is blocked): for trying a change on production first.
# CSP_REPORT_URI: where browsers POST violation reports (none by default). Read
# into private names: django-csp 4 refuses any CSP_* setting (its 3.x format).
_csp_report_only = env.bool("CSP_REPORT_ONLY", default=False)
_csp_report_uri = env("CSP_REPORT_URI", default="")
_csp_policy = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # the TOTP QR code is inline SVG markup; data: for small inline images
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        **({"report-uri": [_csp_report_uri]} if _csp_report_uri else {}),
    }
}
if _csp_report_only:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp_policy
else:
    CONTENT_SECURITY_POLICY = _csp_policy

# --- Files, static, email ------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [BASE_DIR / "static"]
# Browser libraries come from the npm registry (package.json, `npm ci`) and are
# served from node_modules under static/vendor/... (collected like any static file;
# never copied into the repository, never a CDN).
NPM_VENDOR_DIRS = {"lightweight-charts": "node_modules/lightweight-charts/dist"}
STATICFILES_DIRS += [
    (f"vendor/{name}", BASE_DIR / path)
    for name, path in NPM_VENDOR_DIRS.items()
    if (BASE_DIR / path).is_dir()
]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- KYC ------------------------------------------------------------------------
# Documents live in private storage ("kyc" in STORAGES): a directory outside every
# public URL by default, an S3-compatible bucket (private ACL, signed URLs never
# handed out: files are streamed through a permission-checked view) when
# KYC_S3_BUCKET is set.
KYC_STORAGE_ROOT = env("KYC_STORAGE_ROOT", default=str(VAR_DIR / "private" / "kyc"))
KYC_S3_BUCKET = env("KYC_S3_BUCKET", default="")
if KYC_S3_BUCKET:
    STORAGES["kyc"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": KYC_S3_BUCKET,
            "location": env("KYC_S3_PREFIX", default="kyc"),
            "endpoint_url": env("KYC_S3_ENDPOINT_URL", default=None),
            "region_name": env("KYC_S3_REGION", default=None),
            "access_key": env("KYC_S3_ACCESS_KEY_ID", default=None),
            "secret_key": env("KYC_S3_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"}
            if env.bool("KYC_S3_SSE", default=False)
            else {},
        },
    }
else:
    STORAGES["kyc"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": KYC_STORAGE_ROOT,
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
KYC_MAX_UPLOAD_BYTES = env.int("KYC_MAX_UPLOAD_BYTES", 5 * 1024 * 1024)
KYC_MAX_IMAGE_PIXELS = env.int("KYC_MAX_IMAGE_PIXELS", 40_000_000)
KYC_MAX_DRAFT_DOCUMENTS = env.int("KYC_MAX_DRAFT_DOCUMENTS", 12)
# PDFs are rendered to page images at upload (kyc/uploads.py): more pages are
# refused; each page is drawn with this many pixels on its long side.
KYC_MAX_PDF_PAGES = env.int("KYC_MAX_PDF_PAGES", 10)
KYC_PDF_RENDER_LONG_SIDE = env.int("KYC_PDF_RENDER_LONG_SIDE", 1600)
# One document of each group is needed to submit.
KYC_REQUIRED_DOCUMENTS = [
    ["pan_card", "passport", "national_id", "driving_licence"],
    ["proof_of_address"],
    ["selfie"],
]
# A Fernet key (`Fernet.generate_key()`); no default outside local/test settings.
# Older keys, still able to decrypt during a rotation, go in KYC_ENCRYPTION_OLD_KEYS.
KYC_ENCRYPTION_KEY = env("KYC_ENCRYPTION_KEY", default="")
KYC_ENCRYPTION_OLD_KEYS = env.list("KYC_ENCRYPTION_OLD_KEYS", default=[])
# Approvals for these ISO 3166 alpha-2 countries need two different reviewers.
KYC_HIGH_RISK_COUNTRIES = env.list("KYC_HIGH_RISK_COUNTRIES", default=[])
KYC_MIN_AGE_YEARS = 18

# The versions of the terms of service and the privacy notice in force
# (templates/legal/). Raising one asks every user to accept it at their next
# sign-in (docs/accounts.md, "Consent").
LEGAL_TERMS_VERSION = env("LEGAL_TERMS_VERSION", default="2026-12-01")
LEGAL_PRIVACY_VERSION = env("LEGAL_PRIVACY_VERSION", default="2026-12-01")
# A data export reads the user's whole history: this many an hour, on the pages
# and the API together (privacy/services.py).
PRIVACY_EXPORTS_PER_HOUR = env.int("PRIVACY_EXPORTS_PER_HOUR", 3)

EMAIL_BACKEND = env(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
# for the file-based backend only (the browser tests read their links there)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="no-reply@exchange.local")
# A provider through django-anymail in production: EMAIL_BACKEND names its backend
# (anymail.backends.sendgrid.EmailBackend, ...mailgun..., ...postmark...) and these
# carry its credentials; unset ones are left out (docs/notifications.md).
ANYMAIL = {
    name: value
    for name, value in {
        "SENDGRID_API_KEY": env("ANYMAIL_SENDGRID_API_KEY", default=""),
        "MAILGUN_API_KEY": env("ANYMAIL_MAILGUN_API_KEY", default=""),
        "MAILGUN_SENDER_DOMAIN": env("ANYMAIL_MAILGUN_SENDER_DOMAIN", default=""),
        "POSTMARK_SERVER_TOKEN": env("ANYMAIL_POSTMARK_SERVER_TOKEN", default=""),
    }.items()
    if value
}

# --- Notifications (docs/notifications.md) -------------------------------------------
# Links in messages (emails, SMS, push) point here: the public address of the site.
NOTIFICATIONS_SITE_URL = env("NOTIFICATIONS_SITE_URL", default="http://localhost:8000")
# A delivery is tried this many times, waiting BASE x 2^(n-1) seconds (at most MAX)
# between attempts, then marked failed with the provider's answer.
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", 5)
NOTIFICATIONS_RETRY_BASE_SECONDS = env.int("NOTIFICATIONS_RETRY_BASE_SECONDS", 30)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.int("NOTIFICATIONS_RETRY_MAX_SECONDS", 900)
# The beat's sweeper re-queues pending deliveries this overdue (a lost task).
NOTIFICATIONS_SWEEP_AFTER_SECONDS = env.int("NOTIFICATIONS_SWEEP_AFTER_SECONDS", 60)
NOTIFICATIONS_SWEEP_SECONDS = env.int("NOTIFICATIONS_SWEEP_SECONDS", 30)
# At most one "partially filled" message per order in this many seconds (a final
# fill always notifies).
NOTIFICATIONS_PARTIAL_FILL_COALESCE_SECONDS = env.int(
    "NOTIFICATIONS_PARTIAL_FILL_COALESCE_SECONDS", 10
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logs and traces (config/logging.py, config/tracing.py; docs/observability.md)
# Every line through structlog: LOG_FORMAT "json" (one object a line; production's
# default) or "console" (readable key=value lines), at LOG_LEVEL and above.
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING_CONFIG = "config.logging.configure"
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
# Celery keeps the logging Django configured (config/celery.py).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Wallet -----------------------------------------------------------------------
# The sandbox payment provider credits wallets with play money: off unless enabled,
# and it refuses to run without a webhook secret (no default outside local/test).
SANDBOX_PAYMENTS_ENABLED = env.bool("SANDBOX_PAYMENTS_ENABLED", default=False)
SANDBOX_WEBHOOK_SECRET = env("SANDBOX_WEBHOOK_SECRET", default="")
# Empty: the sandbox hands its signed webhook to the webhook handler in-process.
# Set (e.g. http://127.0.0.1:8000/api/v1/wallet/webhooks/sandbox) for a real POST.
SANDBOX_WEBHOOK_URL = env("SANDBOX_WEBHOOK_URL", default="")
# Real payment rails (docs/payments.md), each off until enabled with its keys.
# Stripe: cards through a hosted Checkout Session; its webhook endpoint's secret.
STRIPE_ENABLED = env.bool("STRIPE_ENABLED", default=False)
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Razorpay: cards, UPI, netbanking through a hosted Payment Link.
RAZORPAY_ENABLED = env.bool("RAZORPAY_ENABLED", default=False)
RAZORPAY_KEY_ID = env("RAZORPAY_KEY_ID", default="")
RAZORPAY_KEY_SECRET = env("RAZORPAY_KEY_SECRET", default="")
RAZORPAY_WEBHOOK_SECRET = env("RAZORPAY_WEBHOOK_SECRET", default="")
# The provider a deposit uses when the request names none (if enabled).
WALLET_DEFAULT_PROVIDER = env("WALLET_DEFAULT_PROVIDER", default="sandbox")
# How approved withdrawals are paid out: "manual" (an operator records the
# rail's reference) or "sandbox" (a simulated rail that pays and calls back).
WALLET_PAYOUT_PROVIDER = env("WALLET_PAYOUT_PROVIDER", default="manual")
# The sandbox rail's bank pays ("paid") or returns the payment ("failed").
SANDBOX_PAYOUT_OUTCOME = env("SANDBOX_PAYOUT_OUTCOME", default="paid")
# Where a provider's hosted page sends the user back (this site's public origin).
PAYMENTS_RETURN_BASE_URL = env(
    "PAYMENTS_RETURN_BASE_URL", default="http://127.0.0.1:8000"
)

# Withdrawals above this amount (per asset code, in whole units as a decimal string)
# need two distinct approvers, neither of them the requester.
WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER = env.dict(
    "WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER",
    default={"USD": "10000", "INR": "1000000", "BTC": "1", "ETH": "20"},
)
# A new beneficiary (withdrawal destination) is usable only this long after the
# user confirmed it.
WALLET_BENEFICIARY_COOLOFF_HOURS = env.int("WALLET_BENEFICIARY_COOLOFF_HOURS", 24)
# Without a second factor, a new beneficiary is confirmed by an emailed single-use
# link valid this long.
WALLET_BENEFICIARY_LINK_MINUTES = env.int("WALLET_BENEFICIARY_LINK_MINUTES", 60)
# Wrong two-factor codes on wallet actions (beneficiary confirmation, withdrawal):
# after this many within the window, every code is refused until it has passed.
WALLET_OTP_FAILURE_LIMIT = env.int("WALLET_OTP_FAILURE_LIMIT", 5)
WALLET_OTP_FAILURE_WINDOW_MINUTES = env.int("WALLET_OTP_FAILURE_WINDOW_MINUTES", 15)
# Deposits need an approved KYC, like transfers and withdrawals (always); false only
# for a sandbox where unverified users may fund their wallet.
WALLET_DEPOSITS_NEED_KYC = env.bool("WALLET_DEPOSITS_NEED_KYC", True)

# --- Back office --------------------------------------------------------------------
# A staff action on a user's credentials, email, phone or second factor puts the
# user's withdrawals on hold for this long.
BACKOFFICE_CREDENTIAL_COOLOFF_HOURS = env.int("BACKOFFICE_CREDENTIAL_COOLOFF_HOURS", 48)
# A member of staff who acted on a user may not approve that user's withdrawals or
# adjustments for this long.
BACKOFFICE_STAFF_ACTION_COOLOFF_HOURS = env.int(
    "BACKOFFICE_STAFF_ACTION_COOLOFF_HOURS", 48
)
# The beat runs verify_ledger this often and records the outcome for the admin.
BACKOFFICE_LEDGER_VERIFY_MINUTES = env.int("BACKOFFICE_LEDGER_VERIFY_MINUTES", 15)

# --- Trading ----------------------------------------------------------------------
TRADING_MATCH_BATCH = env.int("TRADING_MATCH_BATCH", 500)
# A worker that finished a run less than this ago waits out the rest before the
# next, so that one-by-one orders are applied in fewer, larger runs. 0: never.
TRADING_MATCH_LINGER_MS = env.int("TRADING_MATCH_LINGER_MS", 20)
# Instruments spread over this many matching queues (`matching-<id mod N>`), a
# worker per queue, so each keeps its instruments' books; 1: the default queue.
TRADING_MATCH_SHARDS = env.int("TRADING_MATCH_SHARDS", 1)
# How long "a matching run is queued" stands without a run starting (a lost
# message): after it, the next order sends again (the sweeper also re-drives).
TRADING_QUEUED_MARK_SECONDS = env.int("TRADING_QUEUED_MARK_SECONDS", 2)
TRADING_SWEEP_AFTER_SECONDS = env.int("TRADING_SWEEP_AFTER_SECONDS", 3)
TRADING_MAX_OPEN_ORDERS = env.int("TRADING_MAX_OPEN_ORDERS", 200)
# Orders per batch request (POST /api/v1/orders/batch, /orders/batch-cancel).
TRADING_BATCH_MAX_ORDERS = env.int("TRADING_BATCH_MAX_ORDERS", 50)
# A market buy by quantity holds its quantity at this much above the reference
# price (the last trade; a stop's stop price), plus fees, when the instrument has
# no price band (with one, the band's top is the bound) (docs/trading.md).
TRADING_MARKET_BUY_SLIPPAGE_PERCENT = env.int("TRADING_MARKET_BUY_SLIPPAGE_PERCENT", 5)
# The trade screen reviews a limit order before placing it when its hold is at
# least this share of the available balance (market and stop orders always).
TRADING_REVIEW_LARGE_PERCENT = env.int("TRADING_REVIEW_LARGE_PERCENT", 25)
CELERY_BEAT_SCHEDULE = {
    "trading-sweep": {"task": "trading.sweep", "schedule": 2.0},
}

# seed_demo gives each demo instrument this many days of trades (one every two
# hours) so the chart has history (marketdata/history.py); 0: none.
DEMO_HISTORY_DAYS = env.int("DEMO_HISTORY_DAYS", 4)

# --- Market data --------------------------------------------------------------------
# User events (orders, fills, balances) are kept this long for replay after a
# disconnect (GET /api/v1/events?since_id=, /ws/user/?since_id=).
MARKETDATA_EVENT_RETENTION_HOURS = env.int("MARKETDATA_EVENT_RETENTION_HOURS", 72)
# /ws/market/: full snapshot this often (plus on request), ping this often.
MARKETDATA_SNAPSHOT_INTERVAL_SECONDS = env.int("MARKETDATA_SNAPSHOT_INTERVAL", 30)
MARKETDATA_PING_INTERVAL_SECONDS = env.int("MARKETDATA_PING_INTERVAL", 15)
# Price levels per side kept in the stored book (REST depth limit, snapshots).
MARKETDATA_DEPTH_LEVELS = env.int("MARKETDATA_DEPTH_LEVELS", 100)
MARKETDATA_RECENT_TRADES = 50
# Per server process and instrument, frames arriving within this many ms of the
# previous hand-out are merged into one (bounds WebSocket writes under load; a
# frame after a quiet period goes out at once). 0 = never merge.
MARKETDATA_FANOUT_LINGER_MS = env.int("MARKETDATA_FANOUT_LINGER_MS", 20)
CELERY_BEAT_SCHEDULE["marketdata-prune-events"] = {
    "task": "marketdata.prune_events",
    "schedule": 3600.0,
}
# The back office's ledger verification (BACKOFFICE_LEDGER_VERIFY_MINUTES, above).
CELERY_BEAT_SCHEDULE["backoffice-ledger-verify"] = {
    "task": "backoffice.ledger_verify",
    "schedule": BACKOFFICE_LEDGER_VERIFY_MINUTES * 60.0,
}

# The wallet's daily reconciliation of each payment provider's report (UTC
# yesterday), at 02:30 UTC when providers have closed their day.
CELERY_BEAT_SCHEDULE["wallet-reconcile-daily"] = {
    "task": "wallet.reconcile_daily",
    "schedule": crontab(hour=2, minute=30),
}

# --- Reports ------------------------------------------------------------------------
# The beat rebuilds the report days that can still change this often.
REPORTS_BUILD_SECONDS = env.int("REPORTS_BUILD_SECONDS", 300)
# How long after its timestamp a source row (a trade, a status change) may still
# commit; the build looks back this far before the previous build.
REPORTS_LATE_ROW_MINUTES = env.int("REPORTS_LATE_ROW_MINUTES", 15)
CELERY_BEAT_SCHEDULE["reports-build"] = {
    "task": "reports.build",
    "schedule": float(REPORTS_BUILD_SECONDS),
}

# --- Notifications ----------------------------------------------------------------
# Pending deliveries whose task was lost (NOTIFICATIONS_SWEEP_AFTER_SECONDS, above).
CELERY_BEAT_SCHEDULE["notifications-sweep"] = {
    "task": "notifications.sweep",
    "schedule": float(NOTIFICATIONS_SWEEP_SECONDS),
}

# --- Devices: SMS, Web Push, mobile push (docs/notification-channels.md) ----------
# Each channel is off until its settings are set. SMS through Twilio: the account
# SID and auth token, and either a sending number (E.164) or a Messaging Service.
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID", default="")
# Web Push: a VAPID key pair (`manage.py webpush_vapid_keys` prints a new one) and
# a contact (mailto: or https:) the push services may write to.
WEBPUSH_VAPID_PUBLIC_KEY = env("WEBPUSH_VAPID_PUBLIC_KEY", default="")
WEBPUSH_VAPID_PRIVATE_KEY = env("WEBPUSH_VAPID_PRIVATE_KEY", default="")
WEBPUSH_VAPID_SUBJECT = env("WEBPUSH_VAPID_SUBJECT", default="")
# The push services a browser subscription may point at (host or parent domain):
# the server POSTs to the endpoint, so it is never an arbitrary URL.
WEBPUSH_ALLOWED_HOSTS = env.list(
    "WEBPUSH_ALLOWED_HOSTS",
    default=[
        "fcm.googleapis.com",
        "push.services.mozilla.com",
        "notify.windows.com",
        "push.apple.com",
    ],
)
# Mobile push through Firebase Cloud Messaging (Android, and iOS through FCM's
# APNs link): a service account's JSON key, as a file path or as the JSON itself;
# the project id defaults to the key's.
FCM_CREDENTIALS_FILE = env("FCM_CREDENTIALS_FILE", default="")
FCM_CREDENTIALS_JSON = env("FCM_CREDENTIALS_JSON", default="")
FCM_PROJECT_ID = env("FCM_PROJECT_ID", default="")
# How long a push service keeps an undelivered push (browser or mobile).
DEVICES_PUSH_TTL_SECONDS = env.int("DEVICES_PUSH_TTL_SECONDS", 24 * 3600)
# Phone verification: a code lives this long, this many wrong tries lock it; a
# new code at most once per RESEND_SECONDS and CODES_PER_HOUR an hour, per user
# and per number.
DEVICES_PHONE_CODE_MINUTES = env.int("DEVICES_PHONE_CODE_MINUTES", 10)
DEVICES_PHONE_CODE_MAX_ATTEMPTS = env.int("DEVICES_PHONE_CODE_MAX_ATTEMPTS", 5)
DEVICES_PHONE_CODE_RESEND_SECONDS = env.int("DEVICES_PHONE_CODE_RESEND_SECONDS", 60)
DEVICES_PHONE_CODES_PER_HOUR = env.int("DEVICES_PHONE_CODES_PER_HOUR", 5)
# The name the verification SMS gives the site.
DEVICES_SMS_SITE_NAME = env("DEVICES_SMS_SITE_NAME", default="Exchange")
# Twilio's SDK logs every request's URL and headers at INFO.
_loggers: Any = LOGGING["loggers"]
_loggers["twilio.http_client"] = {"level": "WARNING"}

# --- Retail pages (docs/retail-pages.md) ----------------------------------------
# The currency the home page values holdings in when the user has not chosen one
# (User.display_currency); an asset code. The first asset when it is not listed.
HOME_DEFAULT_CURRENCY = env("HOME_DEFAULT_CURRENCY", default="USD")
# Days of daily valuations in the home page's chart (one grouped ledger query).
HOME_HISTORY_DAYS = env.int("HOME_HISTORY_DAYS", 30)
