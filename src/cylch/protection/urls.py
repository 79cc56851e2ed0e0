from django.urls import path

from cylch.protection import views

app_name = "protection"
urlpatterns = [
    path("people/<uuid:public_id>/protection/", views.child_page, name="child"),
    path("protection/meetings/<uuid:meeting_id>/", views.meeting_page, name="meeting"),
]
