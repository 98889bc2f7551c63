"""Prepare the embedded demo: an admin and a demo user with fresh random passwords."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create (or reset) the demo admin and demo user; DEBUG only."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup resets passwords: it only runs with DEBUG=true")
        users = get_user_model()
        for username, is_staff in (("admin", True), ("demo", False)):
            password = secrets.token_urlsafe(12)
            user, _ = users.objects.get_or_create(username=username)
            user.is_staff = user.is_superuser = is_staff
            user.set_password(password)
            user.save()
            self.stdout.write(f"user {username!r} password {password!r}")
