from django.apps import AppConfig


class ProtectionConfig(AppConfig):
    name = "cylch.protection"
    label = "protection"
    verbose_name = "Child protection process"

    def ready(self):
        from cylch.protection import receivers  # noqa: F401  (a significant change needs the assessment reviewed)
