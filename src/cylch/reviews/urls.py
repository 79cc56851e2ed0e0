from django.urls import include, path

from cylch.reviews import views

app_name = "reviews"
urlpatterns = [
    path("reviews/", views.board, name="board"),
    path("reviews/refer/", views.refer, name="refer"),
    path("reviews/referrals/<uuid:referral_id>/", views.referral, name="referral"),
    path("reviews/<uuid:review_id>/", views.review, name="review"),
    # Each group of pages keeps its own routes (one writer per file).
    path("", include("cylch.reviews.analysis_urls")),
    path("", include("cylch.reviews.repository_urls")),
    path("", include("cylch.reviews.assessment_urls")),
    path("", include("cylch.reviews.coding_urls")),
]
