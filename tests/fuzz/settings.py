"""Settings of the server ``python -m tests.fuzz`` starts: the example project, production-like.

The database, master key and port come from the driver (environment variables). The
auth-failure throttle is raised because schemathesis's ``ignored_auth`` check sends bad
credentials on purpose, and a throttled address would turn every later answer into 429.
"""

from example_project.settings import *  # noqa: F403
from example_project.settings import REST_FRAMEWORK

DEBUG = False
SECRET_KEY = "fuzz-server-only-not-secret"  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1"]
# The CSRF secret lives in the session, so the session run sends one cookie (the
# ``cookieAuth`` scheme of the schema) and the ``X-CSRFToken`` header.
CSRF_USE_SESSIONS = True

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"secretvault_auth_failures": "100000/min"},
}

# Requests are logged by gunicorn; keep Django's warnings (4xx) out of the CI log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "level": "ERROR"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
