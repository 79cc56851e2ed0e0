"""Django settings for Cylch. Everything that differs between machines comes from the environment.

Environment variables:
    DATABASE_URL          database (default: SQLite file under ``var/``)
    CYLCH_SECRET_KEY      secret key (required when CYLCH_DEBUG is off and not in demo mode)
    CYLCH_DEBUG           "1" for development error pages
    CYLCH_DEMO            "1" to list demo accounts on the sign-in page and let them skip 2FA
    CYLCH_ALLOWED_HOSTS   comma-separated host names
    CYLCH_VAR_DIR         where the SQLite file, uploads and logs live (default: ./var)
    CYLCH_EMAIL_URL       smtp://user:pass@host:port (default: console backend)
    CYLCH_FROM_EMAIL      sender address for notifications
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("CYLCH_VAR_DIR", Path.cwd() / "var")).resolve()


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("CYLCH_DEBUG")
DEMO_MODE = _flag("CYLCH_DEMO")

SECRET_KEY = os.environ.get("CYLCH_SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or DEMO_MODE or _flag("CYLCH_TESTING")):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "CYLCH_SECRET_KEY is not set. Set it to a long random string in production "
            "(or CYLCH_DEMO=1 for the demo hub)."
        )
    SECRET_KEY = "cylch-insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("CYLCH_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "cylch.core",
    "cylch.access",
    "cylch.identity",
    "cylch.events",
    "cylch.notify",
    "cylch.reports",
    "cylch.rules",
    "cylch.chronology",
    "cylch.protection",
    "cylch.insight",
    "cylch.reviews",
    "cylch.governance",
    "cylch.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "cylch.access.middleware.SessionLimitsMiddleware",
    "cylch.access.middleware.RequireSignInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cylch.urls"
WSGI_APPLICATION = "cylch.wsgi.application"

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
                "cylch.access.context_processors.cylch",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'cylch.sqlite3'}"),
        conn_max_age=int(os.environ.get("CYLCH_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while the demo builder or a worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "access.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "access:sign-in"
LOGIN_REDIRECT_URL = "identity:search"

# Sessions: idle expiry slides with each request; an absolute limit is enforced by middleware.
SESSION_COOKIE_AGE = int(os.environ.get("CYLCH_SESSION_IDLE_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CYLCH_SESSION_ABSOLUTE_SECONDS = int(os.environ.get("CYLCH_SESSION_ABSOLUTE_SECONDS", "36000"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not (DEBUG or DEMO_MODE or _flag("CYLCH_TESTING"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Sign-in throttling: failures per username, and per address, within the window.
# Match each new agency record against the person index with the linkage model as it arrives.
CYLCH_ONLINE_LINKAGE = not _flag("CYLCH_NO_ONLINE_LINKAGE")
CYLCH_LOGIN_MAX_FAILURES_PER_USER = 5
CYLCH_LOGIN_MAX_FAILURES_PER_IP = 30
CYLCH_LOGIN_WINDOW_SECONDS = 15 * 60

# Break-glass access lasts this long before the practitioner must give a reason again.
CYLCH_BREAK_GLASS_SECONDS = 4 * 60 * 60

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("cy", "Cymraeg")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "cylch_language"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

_email_url = os.environ.get("CYLCH_EMAIL_URL", "")
if _email_url:
    _e = urlparse(_email_url)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _e.hostname or "localhost"
    EMAIL_PORT = _e.port or 25
    EMAIL_HOST_USER = unquote(_e.username or "")
    EMAIL_HOST_PASSWORD = unquote(_e.password or "")
    EMAIL_USE_TLS = _e.scheme == "smtp+tls"
    EMAIL_USE_SSL = _e.scheme == "smtps"
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("CYLCH_FROM_EMAIL", "Cylch <no-reply@cylch.invalid>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CYLCH_LOG_LEVEL", "WARNING")},
}
