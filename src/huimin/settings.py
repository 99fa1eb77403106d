"""Settings, read from the environment (secrets also from ``NAME_FILE``)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("HUIMIN_VAR_DIR", Path.cwd() / "var"))


def env(name: str, default: str = "") -> str:
    """A setting from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = env(name, "1" if default else "0").strip().lower()
    return value in {"1", "true", "yes", "on"}


DEBUG = env_bool("HUIMIN_DEBUG", False)
# The published development keys. Outside debug the system check huimin.E001/E002 refuses to
# start on them unless HUIMIN_DEV_KEYS=1 says this is a development or test run.
DEV_SECRET_KEY = "insecure-development-key-change-me-in-production"
DEV_DATA_KEY = "insecure-development-data-key"
DEV_KEYS = env_bool("HUIMIN_DEV_KEYS", False)
SECRET_KEY = env("HUIMIN_SECRET_KEY", DEV_SECRET_KEY)
# Master secret for identity and account numbers at rest (AES-GCM + keyed hash).
DATA_KEY = env("HUIMIN_DATA_KEY", DEV_DATA_KEY)
# The province's key for the pseudonyms of registry snapshots (`huimin rules snapshot`,
# docs/scale-out.md): one for all its counties, kept apart from the data key. No default.
SNAPSHOT_KEY = env("HUIMIN_SNAPSHOT_KEY", "")
ALLOWED_HOSTS = [h for h in env("HUIMIN_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("HUIMIN_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # Swagger UI for /api/docs from its own static files, not a CDN
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "huimin.accounts",
    "huimin.registry",
    "huimin.programs",
    "huimin.cases",
    "huimin.payments",
    "huimin.audit",
    "huimin.reports",
    "huimin.verification",
    "huimin.front",
    "huimin.identity",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "huimin.accounts.middleware.SecondFactorMiddleware",
    "huimin.accounts.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "huimin.front.middleware.ActionErrorMiddleware",
    "huimin.front.middleware.NulParameterMiddleware",
]

ROOT_URLCONF = "huimin.urls"
WSGI_APPLICATION = "huimin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["huimin.templatetags.huimin_tags"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "huimin.accounts.context_processors.role",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'huimin.sqlite3'}"),
        # connections are kept between requests (seconds; 0 closes each at the request's end)
        # and checked before reuse; see docs/performance.md for workers and pool sizing
        conn_max_age=int(env("HUIMIN_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
         "transaction_mode": "IMMEDIATE", "timeout": 20}
    )

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "huimin.accounts.validators.MinimumLengthValidator",
     "OPTIONS": {"min_length": int(env("HUIMIN_PASSWORD_MIN_LENGTH", "10"))}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Logins: lockout after repeated failures for one user name (django-axes), then a cool-off.
AXES_FAILURE_LIMIT = int(env("HUIMIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("HUIMIN_LOGIN_COOLOFF_MINUTES", "15")))
# By user name, not by address: village offices share one NAT address and behind the proxy
# every login would share the proxy's, so an address lockout would lock whole townships out.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_VERBOSE = False
# A second factor (TOTP, django-otp) for these roles: enrolment at the first login.
HUIMIN_TOTP_ROLES = [
    r.strip() for r in env("HUIMIN_TOTP_ROLES", "county_approver,finance_officer").split(",")
    if r.strip()
]
OTP_TOTP_ISSUER = "惠民"

# Sessions end after this many idle minutes (each request renews the cookie).
SESSION_COOKIE_AGE = int(env("HUIMIN_SESSION_IDLE_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# HTTPS (on unless debug; HUIMIN_HTTPS=0 only for plain-HTTP development on loopback).
HTTPS = env_bool("HUIMIN_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = int(env("HUIMIN_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HUIMIN_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("HUIMIN_HSTS_PRELOAD", True)
# Behind a proxy that terminates TLS: the header it sets, e.g. "X-Forwarded-Proto: https".
_PROXY_SSL_HEADER = env("HUIMIN_PROXY_SSL_HEADER", "")
if _PROXY_SSL_HEADER:
    _header, _, _value = _PROXY_SSL_HEADER.partition(":")
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _header.strip().upper().replace("-", "_"), _value.strip() or "https"
    )
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy: scripts, styles, images and fonts from this site only (the style
# attributes in some templates need 'unsafe-inline' for styles; no inline scripts anywhere).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
# A form carries at most one file (an import, a return, a scan): a few more are refused.
DATA_UPLOAD_MAX_NUMBER_FILES = 5

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("HUIMIN_LOG_LEVEL", "WARNING")},
}

# Case documents (scans and photos kept with the case under MEDIA_ROOT).
CASE_UPLOAD_MAX_BYTES = int(env("HUIMIN_CASE_UPLOAD_MAX_MB", "10")) * 1024 * 1024
# Masking on public notices (workflow.md): keep the first character of a name; identity
# numbers with only the first and last character visible (the middle holds the birth date
# and sequence), or left off the notice altogether.
NOTICE_MASKING = {
    "name_keep": int(env("HUIMIN_NOTICE_NAME_KEEP", "1")),
    "id_head": int(env("HUIMIN_NOTICE_ID_HEAD", "1")),
    "id_tail": int(env("HUIMIN_NOTICE_ID_TAIL", "1")),
    "show_id": env_bool("HUIMIN_NOTICE_SHOW_ID", True),
}
# Warn this many official working days before a review deadline lapses.
DEADLINE_WARNING_WORKING_DAYS = int(env("HUIMIN_DEADLINE_WARNING_DAYS", "3"))
# Uploaded files (scans of identity and bank cards) are readable by the service user only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# A refused form (expired page, other origin) gets the Chinese 403 page (huimin.front).
CSRF_FAILURE_VIEW = "huimin.front.errors.csrf_failure"
# An approval at any review level checks the program's required documents (必交材料); a
# reviewer who approves without one writes the reason, which is recorded and shown to the
# levels after. Off only for a deployment whose scans are still kept on paper.
CASE_REQUIRED_DOCUMENTS = env_bool("HUIMIN_CASE_REQUIRED_DOCUMENTS", True)
