from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "cylch.core"
    label = "core"
    verbose_name = "Cylch core"
