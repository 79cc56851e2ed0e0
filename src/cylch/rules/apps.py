from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "cylch.rules"
    label = "rules"
    verbose_name = "Cumulative-risk rules and alerts"

    def ready(self):
        from cylch.rules import receivers  # noqa: F401  (listens for recorded events)
