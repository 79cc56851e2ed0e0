from django.urls import path

from cylch.reviews import views

app_name = "reviews"
urlpatterns = [
    path("reviews/", views.board, name="board"),
    path("reviews/refer/", views.refer, name="refer"),
    path("reviews/referrals/<uuid:referral_id>/", views.referral, name="referral"),
    path("reviews/<uuid:review_id>/", views.review, name="review"),
]
