from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        from recommendations.experiments import current_experiment

        # A bad experiment setting fails at start-up, not on the first recommendation served.
        current_experiment()
