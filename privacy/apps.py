from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """Erasing a user's data across the apps that hold it, and the staff's user lookup with its audit log."""

    name = "privacy"
    verbose_name = "Privacy"
