"""Routes for the reviews app's assessment pages (included by reviews/urls.py, same namespace)."""

from django.urls import path

from cylch.reviews import assessment_views as views

urlpatterns: list = [
    path("reviews/assessments/", views.index, name="assessments"),
    path("reviews/assessments/start/", views.start, name="assessment-start"),
    path("reviews/assessments/adding-a-framework/", views.adding, name="assessment-adding"),
    path("reviews/assessments/<uuid:assessment_id>/", views.assessment, name="assessment"),
    path("reviews/assessments/compare/<str:framework_id>/", views.compare, name="assessment-compare"),
]
