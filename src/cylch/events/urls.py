from django.urls import path

from cylch.events import views

app_name = "events"
urlpatterns = [
    path("imports/", views.imports, name="imports"),
    path("imports/spec/", views.spec, name="spec"),
    path("imports/template.csv", views.template_csv, name="template"),
    path("imports/<uuid:public_id>/", views.import_detail, name="import"),
]
