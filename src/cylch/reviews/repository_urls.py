"""Routes for the public repository of published reviews (included by reviews/urls.py, same
namespace). Open without signing in: ``/repository/`` is in access.middleware.OPEN_PREFIXES."""

from django.urls import path

from cylch.reviews import repository_views

urlpatterns = [
    path("repository/", repository_views.search, name="repository"),
    path("repository/<uuid:entry_id>/", repository_views.entry, name="repository-entry"),
]
