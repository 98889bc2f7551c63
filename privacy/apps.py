from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """Erasing a user's data across the apps that hold it (no models of its own)."""

    name = "privacy"
    verbose_name = "Privacy"
