from django.urls import path

from cylch.events import record_views, views

app_name = "events"
urlpatterns = [
    path("imports/", views.imports, name="imports"),
    path("imports/spec/", views.spec, name="spec"),
    path("imports/template.csv", views.template_csv, name="template"),
    path("imports/<uuid:public_id>/", views.import_detail, name="import"),
    path("people/<uuid:public_id>/record/", record_views.record, name="record"),
]
