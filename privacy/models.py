"""The privacy app's one table: who among the staff looked at whose recommender profile, and when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ProfileLookup(models.Model):
    """One staff member's look at one user's profile page (history, recommendations, buds, events).

    Written before the page is shown, so a page that fails still counts as a look. ``subject_id`` is the
    user's id without a foreign key: the record of a look outlives the account looked at. The viewer's
    username is copied for the same reason (a deleted staff account leaves ``viewer`` empty).
    """

    viewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    viewer_username = models.CharField(max_length=150)
    subject_id = models.BigIntegerField()
    looked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["subject_id", "-looked_at"], name="privacy_lookup_subject_idx"),
            models.Index(fields=["-looked_at"], name="privacy_lookup_time_idx"),
        ]
        verbose_name = "profile lookup"

    def __str__(self) -> str:
        return f"{self.viewer_username} looked at user {self.subject_id} at {self.looked_at:%Y-%m-%d %H:%M}"
