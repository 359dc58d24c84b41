from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls)]
if find_spec("secretvault.api") is not None and find_spec("secretvault.api.urls") is not None:
    urlpatterns.append(path("api/v1/", include("secretvault.api.urls")))
