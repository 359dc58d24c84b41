"""URLconf of the API. The project chooses the prefix::

    path("api/v1/", include("secretvault.api.urls"))

Routes are named in the ``secretvault-api`` namespace (``secretvault-api:secret-detail``…).
``schema/`` serves the OpenAPI 3 document and ``docs/`` Swagger UI, whose assets come
from drf-spectacular-sidecar through the project's static files (no CDN).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path, re_path
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from secretvault.api import audit, members, tokens, views
from secretvault.api.authentication import VaultSessionAuthentication
from secretvault.api.schema import VaultAutoSchema, document, public_errors

app_name = "secretvault-api"

_WS = r"workspaces/(?P<ws>[^/]+)"

router = SimpleRouter(trailing_slash=True)
router.register(r"workspaces", views.WorkspaceViewSet, basename="workspace")
router.register(rf"{_WS}/environments", views.EnvironmentViewSet, basename="environment")
router.register(rf"{_WS}/secrets", views.SecretViewSet, basename="secret")
router.register(rf"{_WS}/tokens", tokens.ServiceTokenViewSet, basename="token")
router.register(rf"{_WS}/audit", audit.AuditEventViewSet, basename="audit")
router.register(rf"{_WS}/members", members.MemberViewSet, basename="member")

#: Used where the project's SPECTACULAR_SETTINGS says nothing.
SPECTACULAR_DEFAULTS: dict[str, Any] = {
    "TITLE": "secretvault API",
    "DESCRIPTION": "Application secrets, encrypted at rest, served to services holding revocable tokens.",
    "VERSION": "1.0.0",
    "LICENSE": {"name": "MIT", "url": "https://opensource.org/license/mit"},
    # The paths carry the project's full prefix (/api/v1/...): they are relative to the host.
    "SERVERS": [{"url": "/", "description": "The server that serves this document."}],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}


def _spectacular_settings() -> dict[str, Any]:
    configured = getattr(settings, "SPECTACULAR_SETTINGS", {}) or {}
    return {name: value for name, value in SPECTACULAR_DEFAULTS.items() if name not in configured}


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 document (YAML, or JSON with ``?format=json`` / ``Accept``)."""

    schema = VaultAutoSchema()
    # The API's session class, not DRF's: one security scheme per name in the document.
    authentication_classes = [VaultSessionAuthentication]

    # Redecorated: drf-spectacular's own decoration assumes DEFAULT_SCHEMA_CLASS is its
    # AutoSchema, which a project (tests/settings.py, for one) need not set.
    @document(
        exclude=not spectacular_settings.SERVE_INCLUDE_SCHEMA,
        summary="This OpenAPI 3 document",
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The OpenAPI 3 document."),
            **public_errors(405, 406),
        },
        tags=["schema"],
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI from drf-spectacular-sidecar's static files, never from a CDN."""

    schema = VaultAutoSchema()
    title = "secretvault API"

    @document(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        from drf_spectacular.views import _get_sidecar_url

        return _get_sidecar_url(f"swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        from drf_spectacular.views import _get_sidecar_url

        return _get_sidecar_url("swagger-ui-dist/favicon-32x32.png")


urlpatterns = [
    *router.urls,
    path("schema/", SchemaView.as_view(custom_settings=_spectacular_settings()), name="schema"),
    path("docs/", SwaggerView.as_view(url_name=f"{app_name}:schema"), name="docs"),
    # Last: whatever no route above matched is a JSON 404, not Django's HTML page.
    re_path(r"^.*$", views.not_found, name="not-found"),
]
