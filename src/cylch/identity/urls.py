from django.urls import path

from cylch.identity import views

app_name = "identity"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("people/<uuid:public_id>/", views.person, name="person"),
    path("people/<uuid:public_id>/break-glass/", views.break_glass, name="break-glass"),
]
