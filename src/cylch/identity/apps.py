from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "cylch.identity"
    label = "identity"
    verbose_name = "People, households and linkage"

    def ready(self) -> None:
        from cylch.identity import events, notices  # noqa: F401  (whom persons' notices are about)

        events.register()
