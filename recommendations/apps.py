from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from recommendations.buds import invalidate_on_account_change
        from recommendations.experiments import current_experiment

        # A bad experiment setting fails at start-up, not on the first recommendation served.
        current_experiment()
        user_model = get_user_model()
        # After musicbud's receivers (its app comes first): they record the flags before the save.
        post_save.connect(invalidate_on_account_change, sender=user_model, dispatch_uid="recs-buds-account")
        post_delete.connect(invalidate_on_account_change, sender=user_model, dispatch_uid="recs-buds-account-del")
