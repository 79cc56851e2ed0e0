from django.apps import AppConfig


class ProtectionConfig(AppConfig):
    name = "cylch.protection"
    label = "protection"
    verbose_name = "Child protection process"

    def ready(self):
        from cylch.access.selectors import register_involvement
        from cylch.protection import notices, receivers  # noqa: F401  (whom meetings' notices are about; a significant change needs the assessment reviewed)
        from cylch.protection.involvement import taking_part

        register_involvement(taking_part)
