"""Production profile: refuses to start with the demo secrets; passes ``check --deploy``."""

import os

from django.core.exceptions import ImproperlyConfigured

from ohm.settings import *  # noqa: F403

DEBUG = False


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production.")
    return value


SECRET_KEY = _required("OHM_SECRET_KEY")
FIELD_ENCRYPTION_KEYS = [k for k in _required("OHM_FIELD_KEYS").split(",") if k]
ALLOWED_HOSTS = [h for h in _required("OHM_ALLOWED_HOSTS").split(",") if h]
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": _required("OHM_SMTP_HOST"),
            "port": int(os.environ.get("OHM_SMTP_PORT", "587")),
            "username": os.environ.get("OHM_SMTP_USER", ""),
            "password": os.environ.get("OHM_SMTP_PASSWORD", ""),
            "use_tls": os.environ.get("OHM_SMTP_TLS", "1") == "1",
        },
    }
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
