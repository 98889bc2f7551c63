from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself, as an app: what it connects at start-up (no models)."""

    name = "musicbud"
    verbose_name = "MusicBud"

    def ready(self) -> None:
        from django.contrib import admin
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save, pre_save

        from musicbud import auth

        user_model = get_user_model()
        pre_save.connect(auth.remember_flags, sender=user_model, dispatch_uid="musicbud-auth-flags")
        post_save.connect(auth.deny_on_demotion, sender=user_model, dispatch_uid="musicbud-auth-demotion")
        post_delete.connect(auth.deny_on_delete, sender=user_model, dispatch_uid="musicbud-auth-delete")

        # The admin: its index leads to the operator's pages; no "View site" (this service has no page at /);
        # no navigation sidebar, which took 300 of a 1366 px laptop's width from every list (the index and the
        # breadcrumbs lead everywhere it did).
        admin.site.index_template = "admin/musicbud/index.html"
        admin.site.site_url = None
        admin.site.enable_nav_sidebar = False
        admin.site.site_header = admin.site.site_title = "MusicBud recommendations"
