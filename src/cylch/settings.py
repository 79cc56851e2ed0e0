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
    CYLCH_SECRET_KEY_FALLBACKS  comma-separated earlier secret keys, kept while rotating the key (sealed
                          webhook secrets and sessions still open with them; docs/governance.md)
    CYLCH_WEBHOOK_PRIVATE_NETWORKS  comma-separated private networks webhook subscribers may use
                          (default: none; public https addresses only in production)
    CYLCH_PG_BIN          directory of the PostgreSQL client tools for cylch backup/restore (docs/backup.md)

Security (docs/security.md). Production is any run without CYLCH_DEBUG, CYLCH_DEMO or
CYLCH_TESTING; there the hub is HTTPS-only unless told otherwise:
    CYLCH_HTTPS                    "0" to turn off the HTTPS-only settings (default: on in production)
    CYLCH_PROXY_SSL_HEADER         the header a TLS-terminating proxy sets, e.g. "X-Forwarded-Proto: https"
    CYLCH_TRUSTED_PROXIES          comma-separated proxy addresses or networks whose X-Forwarded-For is believed
    CYLCH_CSRF_TRUSTED_ORIGINS     comma-separated origins, e.g. "https://cylch.example.org"
    CYLCH_HSTS_SECONDS             HSTS max-age (default: one year on HTTPS)
    CYLCH_HSTS_INCLUDE_SUBDOMAINS  "0" to leave subdomains out of HSTS (default: included)
    CYLCH_HSTS_PRELOAD             "1" to ask for the browsers' preload list (default: off; read the docs first)
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
TESTING = _flag("CYLCH_TESTING")
# The demo, the tests and a developer's machine run over plain http on 127.0.0.1.
PRODUCTION = not (DEBUG or DEMO_MODE or TESTING)

# Known to everyone who reads this file, so it loads only where nothing real is kept.
INSECURE_DEVELOPMENT_KEY = "cylch-insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("CYLCH_SECRET_KEY", "")
if PRODUCTION and SECRET_KEY in ("", INSECURE_DEVELOPMENT_KEY):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "CYLCH_SECRET_KEY is not set, or is the published development key. Set it to a long "
        "random string in production (or CYLCH_DEMO=1 for the demo hub)."
    )
SECRET_KEY = SECRET_KEY or INSECURE_DEVELOPMENT_KEY
SECRET_KEY_FALLBACKS = [k.strip() for k in os.environ.get("CYLCH_SECRET_KEY_FALLBACKS", "").split(",") if k.strip()]
CYLCH_WEBHOOK_PRIVATE_NETWORKS = [
    n.strip() for n in os.environ.get("CYLCH_WEBHOOK_PRIVATE_NETWORKS", "").split(",") if n.strip()
]

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
    # Only for its templates and static files: the API docs page then loads Swagger UI from
    # the hub itself, not from a CDN with an inline script the Content-Security-Policy refuses.
    "ninja",
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
    "cylch.core.security.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "cylch.core.security.SecurityHeadersMiddleware",
    # Outside WhiteNoise and the sign-in wall, so static files and redirects are covered too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
]

# The user and their organisation read together. Django's own backend stays listed so that a
# session signed in through it before is still read (a session names the backend that signed it in).
AUTHENTICATION_BACKENDS = ["cylch.access.backends.UserBackend", "django.contrib.auth.backends.ModelBackend"]

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
        # A reused connection is checked before each request, so the first request after a
        # database restart is served, not a 500 (tests/test_faults.py, docs/faults.md).
        conn_health_checks=_flag("CYLCH_DB_CONN_HEALTH_CHECKS", "1"),
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
# Not saved on every request: SessionLimitsMiddleware moves the idle expiry on at most once
# every CYLCH_SESSION_TOUCH_SECONDS (a save is three statements on every request otherwise).
SESSION_SAVE_EVERY_REQUEST = False
CYLCH_SESSION_TOUCH_SECONDS = int(os.environ.get("CYLCH_SESSION_TOUCH_SECONDS", "60"))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CYLCH_SESSION_ABSOLUTE_SECONDS = int(os.environ.get("CYLCH_SESSION_ABSOLUTE_SECONDS", "36000"))
SESSION_COOKIE_HTTPONLY = True
# Lax, not Strict: a practitioner following a link from a notification email stays signed in.
SESSION_COOKIE_SAMESITE = "Lax"

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

# --- Transport, cookies and response headers (docs/security.md) -------------------------
CYLCH_HTTPS = _flag("CYLCH_HTTPS", "1" if PRODUCTION else "0")
SECURE_SSL_REDIRECT = CYLCH_HTTPS
# How long a worker holds a claimed email before another may retry it (docs/faults.md).
CYLCH_OUTBOX_LEASE_SECONDS = int(os.environ.get("CYLCH_OUTBOX_LEASE_SECONDS", "300"))
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/worker$"]  # health checks may come over plain http
# The hub sits behind a TLS-terminating proxy: name the header it sets, or Django sees http,
# redirects to https for ever and never sends HSTS. Only set it if the proxy overwrites the
# header on every request (a client must not be able to send it).
_proxy_ssl_header = os.environ.get("CYLCH_PROXY_SSL_HEADER", "").strip()
if _proxy_ssl_header:
    _name, _sep, _value = _proxy_ssl_header.partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _name.strip().upper().replace("-", "_"), _value.strip() or "https")
CYLCH_TRUSTED_PROXIES = [p.strip() for p in os.environ.get("CYLCH_TRUSTED_PROXIES", "").split(",") if p.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CYLCH_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

SECURE_HSTS_SECONDS = int(os.environ.get("CYLCH_HSTS_SECONDS", str(365 * 24 * 3600) if CYLCH_HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("CYLCH_HSTS_INCLUDE_SUBDOMAINS", "1")
SECURE_HSTS_PRELOAD = _flag("CYLCH_HSTS_PRELOAD")
if SECURE_HSTS_SECONDS and not SECURE_HSTS_PRELOAD:
    # Preloading is a decision for whoever owns the domain (it covers every subdomain and takes
    # months to undo), so it is off by default; the deploy check's reminder is answered here.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

SESSION_COOKIE_SECURE = CYLCH_HTTPS
CSRF_COOKIE_SECURE = CYLCH_HTTPS
LANGUAGE_COOKIE_SECURE = CYLCH_HTTPS
LANGUAGE_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # no script reads it: every form carries the token
if CYLCH_HTTPS:
    # __Host- cookies are refused by browsers unless Secure, host-only and for the whole
    # site, so a neighbouring subdomain cannot plant a session or CSRF cookie.
    SESSION_COOKIE_NAME = "__Host-cylch_session"
    CSRF_COOKIE_NAME = "__Host-cylch_csrf"

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# No inline script or style anywhere: templates load static files, drawings use SVG
# presentation attributes and classes. Sent by cylch.core.security.SecurityHeadersMiddleware.
CYLCH_CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if CYLCH_HTTPS:
    CYLCH_CONTENT_SECURITY_POLICY["upgrade-insecure-requests"] = []
# Browser features the hub never uses, off for it and anything it might embed.
CYLCH_PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get", "screen-wake-lock",
        "serial", "usb", "xr-spatial-tracking", "browsing-topics",
    )
}  # fmt: skip

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
    "filters": {"refusals": {"()": "cylch.core.logfilters.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["refusals"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("CYLCH_LOG_LEVEL", "WARNING")},
}
