"""Settings of the benchmark run: the secretvault app beside the baselines it is measured against.

SQLite by default (a fresh file per run); PostgreSQL with ``DATABASE_URL`` (a fresh
``test_*`` database is created and dropped by the run).
"""

import base64
import os
import tempfile

import environ

env = environ.Env()

SECRET_KEY = "benchmarks-only-not-secret"  # noqa: S105
SALT_KEY = "benchmarks-salt"  # for django-fernet-encrypted-fields
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default="sqlite:///" + os.path.join(tempfile.gettempdir(), "secretvault-bench.sqlite3"),
    )
}
# Persistent connections for the served benchmark's workers when asked (BENCH_CONN_MAX_AGE seconds).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("BENCH_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env.str("BENCH_REDIS_URL", default=""):
    # The served benchmark's gunicorn workers share their throttle counters through Redis.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("BENCH_REDIS_URL"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "secretvault",
    "benchmarks.baseline",
]
# Workspace memberships as object permissions (SPEC §9), after Django's model permissions.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "secretvault.backends.WorkspacePermissionBackend",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchmarks.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SECRETVAULT = {
    "MASTER_KEYS": ["bench:" + base64.urlsafe_b64encode(b"\x05" * 32).rstrip(b"=").decode()],
}
