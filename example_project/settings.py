"""Settings of the secretvault example project.

Everything that differs between machines comes from the environment (or an optional
``.env`` file at the repository root) through django-environ:

=========================  ==============================================================
``DEBUG``                  default ``True`` (this is a demo project)
``SECRET_KEY``             required unless ``DEBUG``; an insecure dev value otherwise
``ALLOWED_HOSTS``          comma-separated, default ``localhost,127.0.0.1,[::1]``
``CSRF_TRUSTED_ORIGINS``   comma-separated, default empty
``DATABASE_URL``           default ``sqlite:///<repo>/db.sqlite3``
``CONN_MAX_AGE``           PostgreSQL persistent connections in seconds, default 0
``CACHE_URL``              default ``locmemcache://``; ``redis://`` uses Django's RedisCache
``SECRETVAULT_MASTER_KEYS``  comma-separated keyring as ``manage.py secretvault generate-key``
                           prints it; the first key wraps new data keys, the rest decrypt
``SECRETVAULT_API_BASIC_AUTH``  ``true`` accepts HTTP Basic on the API; default ``false``
``SECRETVAULT_CLIENT_ADDRESS_HEADER``  behind a proxy: e.g. ``X-Forwarded-For``; default
                           empty (the client address is ``REMOTE_ADDR``)
``SECRETVAULT_TRUSTED_PROXY_COUNT``  proxies of yours appending to that header, default 1
``CACHE_CONNECT_TIMEOUT``  with Redis: seconds to connect, default 0.5
``CACHE_SOCKET_TIMEOUT``   with Redis: seconds per read or write, default 0.5
``LOG_LEVEL``              default ``INFO``
=========================  ==============================================================

A test settings module may ``from example_project.settings import *`` and override.
"""

from pathlib import Path
from urllib.parse import urlparse

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_DOTENV = BASE_DIR / ".env"
if _DOTENV.is_file():
    # Values already in the process environment win over the file.
    environ.Env.read_env(_DOTENV)

DEBUG = env.bool("DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="django-insecure-dev-only-never-deploy-this-key")
else:
    SECRET_KEY = env("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Applications -------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "secretvault",
]

# Workspace memberships as object permissions (SPEC §9), after Django's model permissions.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Keep secret values off the technical 500 page even with DEBUG on.
DEFAULT_EXCEPTION_REPORTER_FILTER = "secretvault.debug.ExceptionReporterFilter"

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------

# An empty DATABASE_URL (``DATABASE_URL= scripts/test``) means the default, not an error.
DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    ),
}

_ENGINE = DATABASES["default"]["ENGINE"]
if _ENGINE == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE takes SQLite's write lock when a transaction starts, so concurrent
    # writers serialize there instead of failing on lock upgrade mid-transaction; the
    # version-numbering and key-uniqueness checks in secretvault.services rely on it.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
elif _ENGINE == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------

# django-environ maps redis:// to django-redis whenever that package happens to be
# importable, and to Django's built-in backend otherwise. Name the built-in backend
# explicitly so the choice does not depend on what else is installed (and so the URL's
# query options reach OPTIONS in the lower case the built-in backend expects).
_REDIS_SCHEMES = {"redis", "rediss", "rediscache"}
_CACHE_URL = env.str("CACHE_URL", default="") or "locmemcache://"
_CACHE = env.cache_url_config(
    _CACHE_URL,
    backend=(
        "django.core.cache.backends.redis.RedisCache"
        if urlparse(_CACHE_URL).scheme in _REDIS_SCHEMES
        else None
    ),
)
# With that backend django-environ 0.14 also lower-cases the top-level options
# (?timeout=60 becomes "timeout"), which Django would ignore; restore their names.
for _option in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION"):
    if _option.lower() in _CACHE:
        _CACHE[_option] = _CACHE.pop(_option.lower())
if _CACHE["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # redis-py waits forever by default: a stalled Redis would hold every request that
    # touches the cache (failed-attempt counters, sessions). Bound the connect and each
    # socket read/write (seconds); the failure counters then fail open with a warning.
    # A ``?socket_timeout=`` in CACHE_URL still wins.
    _CACHE.setdefault("OPTIONS", {})
    _CACHE["OPTIONS"].setdefault("socket_connect_timeout", env.float("CACHE_CONNECT_TIMEOUT", default=0.5))
    _CACHE["OPTIONS"].setdefault("socket_timeout", env.float("CACHE_SOCKET_TIMEOUT", default=0.5))
CACHES = {"default": _CACHE}

# --- Auth ---------------------------------------------------------------------

# First: refuses a username from an address after repeated wrong passwords (admin login,
# API Basic), before the password is checked. It authenticates nobody itself.
AUTHENTICATION_BACKENDS = [
    # Refuses a username+address after repeated wrong passwords (check secretvault.W013).
    "secretvault.logins.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Workspace memberships as object permissions (SPEC §9; check secretvault.W020).
    "secretvault.backends.WorkspacePermissionBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalization -----------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- secretvault --------------------------------------------------------------

SECRETVAULT = {
    "MASTER_KEYS": env.list("SECRETVAULT_MASTER_KEYS", default=[]),
    # HTTP Basic on the API (a password with every request): off unless asked for.
    "API_BASIC_AUTH": env.bool("SECRETVAULT_API_BASIC_AUTH", default=False),
    # Behind a reverse proxy: the header it appends the client's address to, and how
    # many proxies of yours append to it (docs/security.md, "Behind a proxy").
    "CLIENT_ADDRESS_HEADER": env.str("SECRETVAULT_CLIENT_ADDRESS_HEADER", default="") or None,
    "TRUSTED_PROXY_COUNT": env.int("SECRETVAULT_TRUSTED_PROXY_COUNT", default=1),
}

# --- Django REST framework ----------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "secretvault.api.authentication.ServiceTokenAuthentication",
        "secretvault.api.authentication.VaultSessionAuthentication",
        "secretvault.api.authentication.VaultBasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "secretvault_auth_failures": "20/min",
        "secretvault_password_failures": "10/hour",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "secretvault API",
    "DESCRIPTION": "Application secrets, encrypted at rest, served to services.",
    "VERSION": "1.0.0",
    "LICENSE": {"name": "MIT", "url": "https://opensource.org/license/mit"},
    "SERVERS": [{"url": "/", "description": "The server that serves this document."}],
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging ------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "format": "{asctime} {levelname} {name}: {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
        },
    },
    "root": {
        "handlers": ["console"],
        "level": LOG_LEVEL,
    },
    "loggers": {
        # Replaces Django's default handlers for "django" so records are not printed twice.
        "django": {
            "handlers": ["console"],
            "level": LOG_LEVEL,
            "propagate": False,
        },
    },
}
