from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "cylch.notify"
    label = "notify"
    verbose_name = "Notifications"
