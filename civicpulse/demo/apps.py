from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Only for its management commands: seed_demo and seed_history."""

    name = "civicpulse.demo"
    label = "demo"
    verbose_name = "Demo"
