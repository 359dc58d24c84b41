from django.contrib import admin
from django.urls import include, path

from benchmarks.baseline import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("secretvault.api.urls")),
    path("plain/<int:group>/", views.PlainSecretList.as_view()),
    path("ping/servicetoken/", views.PingServiceToken.as_view()),
    path("ping/drftoken/", views.PingDRFToken.as_view()),
]
