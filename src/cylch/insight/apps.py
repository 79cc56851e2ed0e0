from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "cylch.insight"
    label = "insight"
    verbose_name = "Board insight"
