from django.urls import include, path

from cylch.reviews import recommendation_views, report_views, views

app_name = "reviews"
urlpatterns = [
    path("reviews/", views.board, name="board"),
    path("reviews/refer/", views.refer, name="refer"),
    path("reviews/referrals/<uuid:referral_id>/", views.referral, name="referral"),
    path("reviews/<uuid:review_id>/", views.review, name="review"),
    path("reviews/<uuid:review_id>/report/", report_views.overview, name="report"),
    path(
        "reviews/<uuid:review_id>/report/chronology/draft/", report_views.chronology_generate, name="report-chronology"
    ),
    path("reviews/<uuid:review_id>/report/export/", report_views.export, name="report-export"),
    path("reviews/<uuid:review_id>/report/<slug:key>/", report_views.section, name="report-section"),
    path("reviews/<uuid:review_id>/quality/", report_views.checklist, name="quality"),
    path("reviews/<uuid:review_id>/recommendations/", recommendation_views.for_review, name="recommendations"),
    path("reviews/<uuid:review_id>/recommendations/new/", recommendation_views.new, name="recommendation-new"),
    path("reviews/recommendations/", recommendation_views.board_tracker, name="tracker"),
    path("reviews/recommendations/<uuid:rec_id>/", recommendation_views.detail, name="recommendation"),
    # Each group of pages keeps its own routes (one writer per file).
    path("", include("cylch.reviews.analysis_urls")),
    path("", include("cylch.reviews.repository_urls")),
    path("", include("cylch.reviews.assessment_urls")),
    path("", include("cylch.reviews.coding_urls")),
]
