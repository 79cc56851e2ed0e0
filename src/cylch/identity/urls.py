from django.urls import path

from cylch.identity import conflict_views, move_views, review_views, views

app_name = "identity"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("people/<uuid:public_id>/", views.person, name="person"),
    path("people/<uuid:public_id>/break-glass/", views.break_glass, name="break-glass"),
    path("people/<uuid:public_id>/move/<uuid:record_id>/", move_views.move, name="move"),
    path("matching/", review_views.queue, name="review-queue"),
    path("matching/<int:pk>/", review_views.detail, name="review-detail"),
    path("matching/<int:pk>/decide/", review_views.decide, name="review-decide"),
    path("matching/family/", conflict_views.queue, name="family-conflicts"),
    path("matching/family/<int:pk>/", conflict_views.conflict, name="family-conflict"),
    path("matching/households/", conflict_views.households, name="household-duplicates"),
    path(
        "matching/households/<uuid:keep>/<uuid:other>/",
        conflict_views.household_decide,
        name="household-decide",
    ),
    path("matching/households/<uuid:public_id>/undo/", conflict_views.household_undo, name="household-undo"),
]
