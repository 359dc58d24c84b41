"""A second Django project whose settings come from a live vault, through ``secretvault_client.environ``.

Used by tests/client/test_environ.py in a subprocess configured only by the
``SECRETVAULT_*`` variables; this is the snippet docs/client.md shows.
"""

from secretvault_client.environ import Env

env = Env()

SECRET_KEY = env.str("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
DATABASES = {"default": env.db_url("DATABASE_URL")}
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost"])

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
USE_TZ = True
