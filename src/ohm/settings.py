"""Ohm settings: everything that differs between installations comes from the environment.

The embedded default (no environment at all) is the demo: SQLite under ``var/``, the
utility in America/Los_Angeles, a development secret and field key. Production uses
``ohm.settings_production``, which refuses to start without real secrets.
"""

import contextlib
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("OHM_VAR_DIR", BASE_DIR / "var"))

DEBUG = os.environ.get("OHM_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get(
    "OHM_SECRET_KEY", "ohm-development-only-secret-key-never-use-in-production-0123456789"
)
ALLOWED_HOSTS = [
    h for h in os.environ.get("OHM_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]

# Fernet keys (urlsafe base64, 32 bytes) for sensitive fields; the first encrypts, all decrypt,
# so a key can be rotated by putting the new one first. The default is for the demo only.
FIELD_ENCRYPTION_KEYS = [
    k
    for k in os.environ.get("OHM_FIELD_KEYS", "b2htLWRlbW8tZmllbGQta2V5LW5vdC1mb3ItcHJvZCE=").split(
        ","
    )
    if k
]

UTILITY_NAME = os.environ.get("OHM_UTILITY_NAME", "Port Marisol Municipal Power")
UTILITY_TIME_ZONE = os.environ.get("OHM_UTILITY_TZ", "America/Los_Angeles")

INSTALLED_APPS = [
    "unfold",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks_db",
    "ninja",
    "ohm.core",
    "ohm.workqueue",
    "ohm.ledger",
    "ohm.customers",
    "ohm.premises",
    "ohm.metering",
    "ohm.rates",
    "ohm.agreements",
    "ohm.financials",
    "ohm.search",
    "ohm.billing",
    "ohm.payments",
    "ohm.banking",
    "ohm.console",
    "ohm.api",
    "ohm.batch",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "ohm.console.middleware.UtilityTimeZoneMiddleware",
]

ROOT_URLCONF = "ohm.urls"
WSGI_APPLICATION = "ohm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ohm.console.context.console",
            ],
        },
    },
]


def _database_from_url(url: str) -> dict:
    config = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Durable and concurrent enough for a small utility: WAL lets readers run beside the
        # one writer; IMMEDIATE takes the write lock at BEGIN so two writers queue instead of
        # failing with "database is locked" half-way through a transaction.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=FULL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=30000;"
                "PRAGMA cache_size=-65536;"
                # Reads of the database file through a memory map rather than read() calls:
                # a bill run's workers read each chunk's interval pages once, and mapped pages
                # save the copy into SQLite's cache (the workers' system CPU about halves,
                # ~4 µs a bill). WAL and the writes are unchanged. Limits: the usual build caps
                # the map at this size (0x7fff0000, SQLITE_MAX_MMAP_SIZE), pages beyond it are
                # read as before; and an I/O error on a mapped page is a SIGBUS, not an error.
                "PRAGMA mmap_size=2147418112;"
            ),
        }
        config.setdefault("TEST", {})
    return config


DATABASE_URL = os.environ.get("DATABASE_URL", "")
if not DATABASE_URL:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'ohm.sqlite3'}"
DATABASES = {"default": _database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"

# Staff sessions end after 30 minutes without a request.
SESSION_COOKIE_AGE = int(os.environ.get("OHM_SESSION_SECONDS", 30 * 60))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Lockout: five failed logins for one username lock it for 30 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "console/locked_out.html"
AXES_VERBOSE = False
# Lock by username only: a call centre's CSRs share one office address, and locking that
# address after five typos would lock every CSR out. Rate-limit by address at the proxy.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored and computed in UTC; the utility's zone is UTILITY_TIME_ZONE
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("OHM_STATIC_ROOT", VAR_DIR / "static"))
with contextlib.suppress(OSError):  # whitenoise expects the directory; collectstatic fills it
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

OTP_TOTP_ISSUER = UTILITY_NAME

UNFOLD = {"SITE_TITLE": "Ohm administration", "SITE_HEADER": "Ohm", "SITE_SYMBOL": "bolt"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"axes": {"level": "WARNING"}},
    "root": {"handlers": ["console"], "level": os.environ.get("OHM_LOG_LEVEL", "WARNING")},
}

# AMI head-end: "simulator" (the demo, tests, training) or "http" (a MultiSpeak-style JSON API).
# Outgoing mail (e-bills, notices). Out of the box every message is written to a file in
# var/outbox (one per message) so a demo or training copy never mails real people; a
# production site sets OHM_SMTP_HOST (and OHM_SMTP_PORT, OHM_SMTP_USER, OHM_SMTP_PASSWORD);
# the production profile requires it.
if os.environ.get("OHM_SMTP_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ["OHM_SMTP_HOST"],
                "port": int(os.environ.get("OHM_SMTP_PORT", "587")),
                "username": os.environ.get("OHM_SMTP_USER", ""),
                "password": os.environ.get("OHM_SMTP_PASSWORD", ""),
                "use_tls": os.environ.get("OHM_SMTP_TLS", "1") == "1",
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "outbox")},
        }
    }
DEFAULT_FROM_EMAIL = os.environ.get("OHM_MAIL_FROM", "billing@port-marisol.example")

OHM_HEADEND = os.environ.get("OHM_HEADEND", "simulator")
OHM_HEADEND_URL = os.environ.get("OHM_HEADEND_URL", "")
OHM_HEADEND_SEED = int(os.environ.get("OHM_HEADEND_SEED", "1"))

# Batch runs whose job kind can prepare chunks apart from writing them (the bill run) read
# and compute the next chunks in this many worker processes while the run's own process
# writes; 0 prepares in the run's process. Default: one per core, at most four.
OHM_BATCH_WORKERS = int(os.environ.get("OHM_BATCH_WORKERS", str(min(os.cpu_count() or 1, 4))))
