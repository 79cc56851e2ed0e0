from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cylch.core"
    label = "core"
    verbose_name = "Cylch core"

    def ready(self) -> None:
        from cylch.core import checks  # noqa: F401  (registers system checks)
