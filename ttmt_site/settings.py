"""TTMT settings, read from the environment.

Embedded default (no variables set): SQLite file under ``var/``, in-process cache and channel
layer, emails written to ``var/mail/``. Production: set ``DJANGO_DEBUG=0``, ``DJANGO_SECRET_KEY``,
``DJANGO_ALLOWED_HOSTS``, ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL`` and the ``EMAIL_*`` variables.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TTMT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG=0")
    SECRET_KEY = "embedded-mode-only-not-secret-" + "x" * 40
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not REDIS_URL

INSTALLED_APPS = [
    "core",  # first: its runserver (embedded workers + daphne) wins over daphne's
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "guardian",
    "channels",
    "django_dramatiq",
    "accounts",
    "orgs",
    "platforms",
    "clients",
    "execution",
    "observability",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "orgs.mfa_enforcement.MfaRequirementMiddleware",
]

ROOT_URLCONF = "ttmt_site.urls"
WSGI_APPLICATION = "ttmt_site.wsgi.application"
ASGI_APPLICATION = "ttmt_site.asgi.application"

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
                "orgs.context_processors.current_organization",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'ttmt.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (web, in-process workers) share the file: wait for the lock, don't fail.
    # IMMEDIATE: a transaction takes the write lock at BEGIN, so two threads never deadlock
    # upgrading read locks (which SQLite answers with "database is locked" at once).
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
    # Tests too use a file (an in-memory database shares its cache between threads and fails on
    # lock conflicts instead of waiting).
    # One file per test run, so that two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "orgs:list"

# --- allauth: email is the only identifier; the password is generated and emailed --------------
ACCOUNT_ADAPTER = "orgs.signup.SignupAdapter"
ACCOUNT_FORMS = {
    "login": "accounts.forms.EmailPasswordLoginForm",
    "signup": "accounts.forms.EmailOnlySignupForm",
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# The password arrives by email: reading it proves the address, so no separate verification.
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "signup": os.environ.get("TTMT_RATE_SIGNUP", "10/m/ip"),
    "login": os.environ.get("TTMT_RATE_LOGIN", "30/m/ip"),
    # "key" is the account *from one address* (orgs.signup.SignupAdapter): guessing from one
    # address is throttled without locking the account out for everybody else.
    "login_failed": os.environ.get("TTMT_RATE_LOGIN_FAILED", "10/m/ip,5/5m/key"),
    "reset_password": os.environ.get("TTMT_RATE_RESET_PASSWORD", "20/m/ip,5/m/key"),
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[TTMT] "
# Two-factor login (allauth.mfa): an authenticator app and recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "TTMT"
# allauth refuses 2FA to an unverified address; ours is proven by reading the emailed password.
MFA_ALLOW_UNVERIFIED_EMAIL = True
ANONYMOUS_USER_NAME = None  # guardian: no "AnonymousUser" row for an email-only user model
GUARDIAN_RAISE_403 = False

# --- email ---------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "TTMT <no-reply@ttmt.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "accounts.mailbox.MailboxBackend"
    MAILBOX_DIR = Path(os.environ.get("TTMT_MAILBOX_DIR", VAR_DIR / "mail"))

# --- encryption at rest (credentials) -------------------------------------------------------------
# Comma-separated Fernet keys (`python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"`); the first encrypts, all decrypt.
TTMT_ENCRYPTION_KEYS = env_list("TTMT_ENCRYPTION_KEYS", "")
if not TTMT_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("TTMT_ENCRYPTION_KEYS is required when DJANGO_DEBUG=0")
    # Embedded mode only: a key derived from the (dev) secret key.
    import base64
    import hashlib

    TTMT_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"ttmt-encryption:" + SECRET_KEY.encode()).digest()).decode()
    ]

# --- execution -----------------------------------------------------------------------------------
TTMT_SIMULATOR_SEED = os.environ.get("TTMT_SIMULATOR_SEED", "ttmt")
# Starting balance of a new simulated account, by account type.
TTMT_SIMULATOR_BALANCE = {"demo": 10000, "live": 10000, "prop": 100000}
# MetaApi: the master token is read ONLY by the setup (provisioning) path, from the environment.
TTMT_METAAPI_DOMAIN = os.environ.get("TTMT_METAAPI_DOMAIN", "agiliumtrade.agiliumtrade.ai")
TTMT_METAAPI_TOKEN_VALIDITY_HOURS = int(os.environ.get("TTMT_METAAPI_TOKEN_VALIDITY_HOURS", "168"))
TTMT_METAAPI_API_FACTORY = ""  # dotted path of a stand-in for the SDK's MetaApi (tests); empty: the real SDK

# Execution safety: the seed's numbers are the defaults; each can be overridden here.
TTMT_SAFETY = {
    "pause": {
        "failure_threshold": 5,
        "permanent_threshold": 2,
        "cooldown": 30.0,
        "successes_to_resume": 2,
        "test_slots": 1,
    },
    "health": {"failure_threshold": 3, "window": 10.0, "pause_duration": 60.0},
    "speed": {"max_in_flight": 5, "min_gap": 0.2},
    "retry": {},  # e.g. {"breakeven": {"initial_delay": 0.2, "max_delay": 2.0, "max_retries": 5}}
}
TTMT_SAFETY_PREFIX = os.environ.get("TTMT_SAFETY_PREFIX", "ttmt:safety:")
# How long an accepted operation may take before it fails with a reason (seconds), by priority:
# protective operations (close, breakeven, stop loss) wait out a pause; new orders go stale fast.
TTMT_OPERATION_DEADLINE = {"high": 3600, "normal": 60, "low": 60}
TTMT_BROKER_CALL_TIMEOUT = float(os.environ.get("TTMT_BROKER_CALL_TIMEOUT", "15"))
# a retry or speed-control wait this short keeps the operation running; a longer one is WAITING
# (cancellable, shown as waiting)
TTMT_INLINE_WAIT_MAX = 2.0
# The engine of each execution worker process (execution.engine), in seconds: its heartbeat, how
# long after the last one its accounts are taken over, how often it looks for unserved work, when an
# unused broker session is closed; and the threads running its database work.
TTMT_ENGINE = {
    "heartbeat": float(os.environ.get("TTMT_ENGINE_HEARTBEAT", "1.5")),
    "worker_ttl": float(os.environ.get("TTMT_ENGINE_WORKER_TTL", "6")),
    "scan_every": float(os.environ.get("TTMT_ENGINE_SCAN_EVERY", "1")),
    "session_idle": float(os.environ.get("TTMT_ENGINE_SESSION_IDLE", "300")),
    "db_threads": int(os.environ.get("TTMT_ENGINE_DB_THREADS", "8")),
    # operations past their speed slot at once (their broker call, its database work): a burst of
    # thousands queues here instead of timing its own calls out; a stalled broker holds at most 5
    # of them per account (speed control), each for at most the call timeout
    "max_active": int(os.environ.get("TTMT_ENGINE_MAX_ACTIVE", "32")),
    # stream the accounts homed here (live dashboard); 0 only where nobody watches (benchmarks)
    "stream": os.environ.get("TTMT_ENGINE_STREAM", "1") == "1",
}

# Dramatiq: RabbitMQ in production (RABBITMQ_URL: per-message priorities, a close before waiting
# orders); Redis when only REDIS_URL is set; otherwise the embedded default, an in-process broker
# whose worker threads run inside the server process. Every execution worker boots the engine.
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "")
_DRAMATIQ_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "execution.engine.middleware.EngineBoot",
]
if RABBITMQ_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
        # = execution.orders.actors.MAX_BROKER_PRIORITY; a declared queue keeps its maximum
        "OPTIONS": {"url": RABBITMQ_URL, "max_priority": 2},
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
elif REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {"url": REDIS_URL},
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
else:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]
TTMT_EMBEDDED_WORKER_THREADS = int(os.environ.get("TTMT_EMBEDDED_WORKER_THREADS", "4"))

# --- observability (observability/) ---------------------------------------------------------------
# When set, GET /metrics needs "Authorization: Bearer <token>" (a deploy check warns when it is not).
TTMT_METRICS_TOKEN = os.environ.get("TTMT_METRICS_TOKEN", "")
TTMT_METRICS_PREFIX = "ttmt:metrics:"  # Redis keys of the counters every process adds to

# --- invitations ---------------------------------------------------------------------------------
TTMT_INVITATION_TTL_DAYS = int(os.environ.get("TTMT_INVITATION_TTL_DAYS", "7"))

TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE = int(os.environ.get("TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE", "10"))
# X-Forwarded-For is believed only from these addresses or CIDRs (core/client_ip.py); empty: never.
TTMT_TRUSTED_PROXIES = env_list("TTMT_TRUSTED_PROXIES", "")

# --- outbound connections on a user's behalf (core/egress.py) -------------------------------------
# Loopback, private, link-local... addresses are refused unless this is set; bin/run (the embedded
# default) sets it to reach services on this machine. Cloud metadata addresses are refused always.
TTMT_ALLOW_PRIVATE_ADDRESSES = env_bool("TTMT_ALLOW_PRIVATE_ADDRESSES", False)
TTMT_CONNECTION_TESTS_PER_MINUTE = int(os.environ.get("TTMT_CONNECTION_TESTS_PER_MINUTE", "10"))

# --- REST API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clients.authentication.ApiClientAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ttmt_site.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TTMT API",
    "DESCRIPTION": "Organizations, members, trade platforms and execution on MetaTrader accounts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "orgs.permissions.ROLE_CHOICES",
        "PresetRoleEnum": "orgs.permissions.PRESET_ROLE_CHOICES",
        "PermissionEnum": "orgs.permissions.PERMISSION_CHOICES",
        "PlatformTypeEnum": "platforms.models.TradePlatform.TYPE_CHOICES",
        "AccountTypeEnum": "execution.accounts.models.TradingAccount.TYPE_CHOICES",
        "KindEnum": "execution.orders.models.Operation.KIND_CHOICES",
        "OrderTypeEnum": "execution.web.api.serializers.ORDER_TYPE_CHOICES",
        "StateEnum": "execution.orders.models.Operation.STATE_CHOICES",
        "SignalKindEnum": "execution.signals.web.api.KINDS",
        "ProblemCodeEnum": "execution.signals.web.api.PROBLEM_CODES",
        "SignalSourceKindEnum": "execution.signals.models.SignalSource.KIND_CHOICES",
        "SignalSourceStateEnum": "execution.signals.models.SignalSource.STATE_CHOICES",
        "SignalSourceSettableStateEnum": "execution.signals.web.serializers.SOURCE_STATES",
        "SignalTradeStateEnum": "execution.signals.models.Trade.STATE_CHOICES",
        "SignalRouteModeEnum": "execution.signals.models.Route.MODE_CHOICES",
        "ModeEnum": "execution.accounts.models.RiskSettings.MODE_CHOICES",
    },
}

# --- security (production values; all pass `check --deploy`) --------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Error pages and reports hide passwords and codes in DEBUG too (accounts/reporting.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "accounts.reporting.SecretsReporterFilter"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # probes and Prometheus reach the web processes directly, over plain HTTP
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact_url_tokens": {"()": "core.logs.RedactUrlTokens"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_url_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("TTMT_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Absolute links in emails (password, invitations).
TTMT_BASE_URL = os.environ.get("TTMT_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
