"""Settings, read from the environment (secrets also from ``NAME_FILE``)."""

from __future__ import annotations

import os
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
SECRET_KEY = env("HUIMIN_SECRET_KEY", "insecure-development-key-change-me-in-production")
# Master secret for identity and account numbers at rest (AES-GCM + keyed hash).
DATA_KEY = env("HUIMIN_DATA_KEY", "insecure-development-data-key")
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
    "huimin.accounts",
    "huimin.registry",
    "huimin.programs",
    "huimin.cases",
    "huimin.payments",
    "huimin.audit",
    "huimin.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
        conn_max_age=0,
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
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

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
