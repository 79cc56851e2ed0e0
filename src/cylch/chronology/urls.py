from django.urls import path

from cylch.chronology import family_views, views

app_name = "chronology"
urlpatterns = [
    path("people/<uuid:public_id>/chronology/", views.chronology_page, name="chronology"),
    path("people/<uuid:public_id>/chronology/export.<str:fmt>", views.export, name="export"),
    path("people/<uuid:public_id>/chronology/export/", views.export, name="export-form"),
    path(
        "people/<uuid:public_id>/chronology/<uuid:event_id>/significant/",
        views.mark_significant,
        name="significant",
    ),
    path("people/<uuid:public_id>/family/", family_views.family, name="family"),
    path("people/<uuid:public_id>/voice/", views.voice_page, name="voice"),
    path("people/<uuid:public_id>/voice/new/", views.voice_new, name="voice-new"),
    path("people/<uuid:public_id>/voice/<uuid:wish_id>/respond/", views.wish_respond, name="wish-respond"),
    path("people/<uuid:public_id>/story/", views.story_edit, name="story"),
]
