"""URLconf of the example project: the admin, and secretvault's API under /api/v1/."""

from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView


def _module_exists(name: str) -> bool:
    # find_spec imports the parent packages of a dotted name and raises when one is missing.
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:
        return False


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]

# Mounted only once the API package exists, so the project runs while it is being built.
if _module_exists("secretvault.api.urls"):
    urlpatterns.append(path("api/v1/", include("secretvault.api.urls")))
