"""Settings for every environment, read from environment variables.

With nothing set, the embedded default applies: SQLite under ``var/`` and Celery
tasks executed eagerly in-process, so a fresh clone runs with no services.
``DATABASE_URL`` switches to PostgreSQL (or any dj-database-url URL) and
``REDIS_URL`` switches Celery to a real broker, worker and beat.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
# The fallback key only ever serves the embedded development default; production
# settings refuse to start without SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "simple_history",
    "django_celery_beat",
    "backoffice.apps.BackofficeConfig",
    "funds.apps.FundsConfig",
    "baskets.apps.BasketsConfig",
    "orders.apps.OrdersConfig",
    "fof.apps.FofConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records request.user as the author of every history row written in a request.
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backoffice" / "templates"],
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

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Server-side parameter binding and prepared statements: psycopg prepares a statement after
        # its 5th execution on the (persistent) connection, so PostgreSQL stops parsing and planning the
        # hot queries of order intake (bench/order_load.py) on every request. Django disables
        # preparing unless prepare_threshold is set.
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "backoffice.sqlite3",
            # WAL + a busy timeout keep the dev server and eager tasks from
            # tripping over each other's locks.
            "OPTIONS": {
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Stored times are UTC; business rules convert to BUSINESS_TIME_ZONE explicitly.
USE_TZ = True
TIME_ZONE = "UTC"
BUSINESS_TIME_ZONE = "America/New_York"
USE_I18N = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve app static files straight from their apps when collectstatic has not run (development).
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    # Deny by default: every endpoint needs an authenticated user, and views add role checks.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Token first, so an unauthenticated API client gets 401 with a WWW-Authenticate header. DRF's
    # TokenAuthentication, loading the user's AP binding and roles in the token's query.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backoffice.authentication.TokenWithRolesAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backoffice.exceptions.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # Rates of the throttled endpoints (only those that set a throttle scope are throttled). The cache is
    # Django's default (per-process memory) unless CACHES says otherwise.
    "DEFAULT_THROTTLE_RATES": {"fof_registration": os.environ.get("FOF_REGISTRATION_RATE", "5/minute")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Semi-transparent Active ETF back office API",
    "DESCRIPTION": (
        "Funds, NAVs and market data for the Funds of exemptive application 812-15070. "
        "Portfolio holdings are confidential and never served to Authorized Participant, "
        "Investing Fund or public users."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "ParticipantStatusEnum": "orders.models.AuthorizedParticipant.Status",
        "PayerEnum": "orders.models.Order.Payer",
        "InvestingFundStatusEnum": "fof.models.InvestingFund.Status",
        "InvestingFundKindEnum": "fof.models.InvestingFund.Kind",
    },
}

# Celery. Without a broker URL tasks run eagerly in-process (embedded default).
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Crontabs are read in New York time, so 12:00 means 12:00 ET across DST changes.
CELERY_TIMEZONE = BUSINESS_TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# Mail: Operations alerts (a basket that could not be published). Console by default; set
# EMAIL_URL-style settings through the environment in production.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "backoffice@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")

# Tests needing PostgreSQL, Redis or a worker fail instead of skipping when set.
REQUIRE_SERVICES = env_bool("REQUIRE_SERVICES", False)

# Dissemination webhooks (orders.dissemination): AP webhook URLs must be https. Not read from the
# environment on purpose: only tests (local receivers on 127.0.0.1) turn it on, through `settings`.
ALLOW_HTTP_WEBHOOKS = False
WEBHOOK_TIMEOUT_SECONDS = 5

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

from backoffice.celery_schedule import BEAT_SCHEDULE as CELERY_BEAT_SCHEDULE  # noqa: E402
