from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself, as an app: what it connects at start-up (no models)."""

    name = "musicbud"
    verbose_name = "MusicBud"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save, pre_save

        from musicbud import auth

        user_model = get_user_model()
        pre_save.connect(auth.remember_flags, sender=user_model, dispatch_uid="musicbud-auth-flags")
        post_save.connect(auth.deny_on_demotion, sender=user_model, dispatch_uid="musicbud-auth-demotion")
        post_delete.connect(auth.deny_on_delete, sender=user_model, dispatch_uid="musicbud-auth-delete")
