from django.urls import path

from cylch.insight import views

app_name = "insight"
urlpatterns = [
    path("insight/", views.index, name="index"),
    path("insight/return/", views.data_return, name="return"),
    path("insight/<slug:measure_id>/", views.measure, name="measure"),
    path("insight/<slug:measure_id>/records/", views.records, name="records"),
]
