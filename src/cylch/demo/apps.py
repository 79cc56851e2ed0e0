from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "cylch.demo"
    label = "demo"
    verbose_name = "Synthetic Wales demo"
