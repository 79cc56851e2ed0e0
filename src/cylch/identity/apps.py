from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "cylch.identity"
    label = "identity"
    verbose_name = "People, households and linkage"

    def ready(self) -> None:
        from cylch.identity import events

        events.register()
