from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Recommendation analytics"

    def ready(self) -> None:
        from analytics.variants import current_experiment

        # A bad experiment setting fails at start-up, not on the first recommendation served.
        current_experiment()
