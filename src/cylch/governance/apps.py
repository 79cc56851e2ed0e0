from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Second pair of eyes, retention, people's rights, safe exports and outbound webhooks."""

    name = "cylch.governance"
    label = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from cylch.governance import checks, events, receivers  # noqa: F401  (checks register on import)

        events.register()
        receivers.connect()
