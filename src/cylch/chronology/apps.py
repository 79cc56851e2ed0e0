from django.apps import AppConfig


class ChronologyConfig(AppConfig):
    name = "cylch.chronology"
    label = "chronology"
    verbose_name = "Chronology, family network and the child's voice"
