from django.contrib import admin
from django.urls import include, path

from cylch.api import api
from cylch.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("healthz/worker", core_views.healthz_worker, name="healthz-worker"),
    path("language/<str:code>/", core_views.switch_language, name="switch-language"),
    path("", include("cylch.access.urls")),
    path("", include("cylch.identity.urls")),
    path("", include("cylch.reports.urls")),
    path("", include("cylch.events.urls")),
    path("", include("cylch.rules.urls")),
    path("", include("cylch.chronology.urls")),
    path("", include("cylch.protection.urls")),
    path("", include("cylch.insight.urls")),
    path("", include("cylch.reviews.urls")),
    path("", include("cylch.governance.urls")),
    path("", include("cylch.notify.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
