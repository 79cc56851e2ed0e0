from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "cylch.reports"
    label = "reports"
    verbose_name = "The front door"

    def ready(self) -> None:
        from cylch.reports import notices  # noqa: F401  (whom front-door notices are about)
