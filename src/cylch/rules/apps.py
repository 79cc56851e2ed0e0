from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "cylch.rules"
    label = "rules"
    verbose_name = "Cumulative-risk rules and alerts"

    def ready(self):
        # Registers the system checks, and listens for recorded events and for links undone.
        from cylch.rules import checks, receivers, relink  # noqa: F401
