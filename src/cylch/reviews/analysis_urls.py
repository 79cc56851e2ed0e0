"""Routes for the reviews app's analysis pages (included by reviews/urls.py, same namespace)."""

from django.urls import path

from cylch.reviews import analysis_views

urlpatterns = [
    path("reviews/analysis/", analysis_views.page, name="analysis"),
    path("reviews/analysis/tables.csv", analysis_views.tables_csv, name="analysis-csv"),
]
