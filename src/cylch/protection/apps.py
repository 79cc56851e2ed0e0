from django.apps import AppConfig


class ProtectionConfig(AppConfig):
    name = "cylch.protection"
    label = "protection"
    verbose_name = "Child protection process"
