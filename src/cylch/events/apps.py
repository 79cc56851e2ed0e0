from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "cylch.events"
    label = "events"
    verbose_name = "Event spine"

    def ready(self) -> None:
        from cylch.events import checks  # noqa: F401  (registers system checks)
