"""Settings for the test suite: SQLite in memory by default, PostgreSQL via DATABASE_URL."""

import base64

import environ

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite://:memory:")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"].setdefault("TEST", {})

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
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
            ]
        },
    }
]
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DEFAULT_EXCEPTION_REPORTER_FILTER = "secretvault.debug.ExceptionReporterFilter"
AUTHENTICATION_BACKENDS = [
    "secretvault.logins.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Workspace memberships as object permissions (SPEC §9), after Django's model permissions.
    "secretvault.backends.WorkspacePermissionBackend",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _key(key_id: str, byte: int) -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(bytes([byte]) * 32).rstrip(b'=').decode()}"


TEST_MASTER_KEY = _key("test-1", 1)
TEST_MASTER_KEY_2 = _key("test-2", 2)
# Subprocess tests (crash-safe rotation) pass their own keyring through the environment.
# The API tests use HTTP Basic for people (off by default; tests of the default turn it off).
SECRETVAULT = {
    "MASTER_KEYS": env.list("SECRETVAULT_MASTER_KEYS", default=[TEST_MASTER_KEY]),
    "API_BASIC_AUTH": True,
}
