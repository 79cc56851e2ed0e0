from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "cylch.rules"
    label = "rules"
    verbose_name = "Cumulative-risk rules and alerts"

    def ready(self):
        from cylch.rules import checks, receivers  # noqa: F401  (registers system checks; listens for recorded events)
