from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "cylch.reviews"
    label = "reviews"
    verbose_name = "Safeguarding reviews"
