from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "cylch.reports"
    label = "reports"
    verbose_name = "The front door"
