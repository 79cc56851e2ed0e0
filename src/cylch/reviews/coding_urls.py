"""Routes for the reviews app's coding pages (included by reviews/urls.py, same namespace)."""

from django.urls import path

from cylch.reviews import coding_views as views

urlpatterns: list = [
    path("reviews/coded/", views.coded_list, name="coded-list"),
    path("reviews/coded/add/", views.coded_add, name="coded-add"),
    path("reviews/coded/<uuid:coded_id>/", views.coded_edit, name="coded"),
    path("reviews/coded/<uuid:coded_id>/upload/", views.coded_upload, name="coded-upload"),
    path("reviews/coded/<uuid:coded_id>/suggestions/", views.coded_suggestions, name="coded-suggestions"),
]
