from django.urls import path

from cylch.notify import views

app_name = "notify"
urlpatterns = [
    path("notices/", views.notices, name="notices"),
    path("notices/read-all/", views.read_all, name="read-all"),
    path("notices/<uuid:public_id>/read/", views.read, name="read"),
]
