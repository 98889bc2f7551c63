"""TrainingLog, moved here from analytics: state only (analytics.0002 renamed the table), plus its permissions.

The content type row moves with the model, so permissions granted on training logs stay granted.
"""

from typing import Any

import django.utils.timezone
from django.db import migrations, models


def move_content_type(apps: Any, schema_editor: Any) -> None:
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label="recommendations", model="traininglog").exists():
        content_types.objects.filter(app_label="analytics", model="traininglog").update(app_label="recommendations")


def move_content_type_back(apps: Any, schema_editor: Any) -> None:
    content_types = apps.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="recommendations", model="traininglog").update(app_label="analytics")


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0001_initial"),
        ("analytics", "0002_move_traininglog"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TrainingLog",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "content_type",
                            models.CharField(
                                choices=[("movies", "movies"), ("manga", "manga"), ("anime", "anime")], max_length=16
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                    ("skipped", "Skipped (data unchanged)"),
                                ],
                                default="running",
                                max_length=16,
                            ),
                        ),
                        (
                            "triggered_by",
                            models.CharField(help_text="cli, cron, api:<user>, admin:<user>", max_length=32),
                        ),
                        ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("duration_s", models.FloatField(blank=True, null=True)),
                        ("users", models.PositiveIntegerField(blank=True, null=True)),
                        ("items", models.PositiveIntegerField(blank=True, null=True)),
                        ("interactions", models.PositiveIntegerField(blank=True, null=True)),
                        ("k", models.PositiveSmallIntegerField(default=10)),
                        ("auc", models.FloatField(blank=True, null=True)),
                        ("precision_at_k", models.FloatField(blank=True, null=True)),
                        ("recall_at_k", models.FloatField(blank=True, null=True)),
                        ("ndcg_at_k", models.FloatField(blank=True, null=True)),
                        ("metrics", models.JSONField(blank=True, default=dict)),
                        ("model_version", models.CharField(blank=True, default="", max_length=64)),
                        ("data_fingerprint", models.CharField(blank=True, default="", max_length=64)),
                        ("error", models.TextField(blank=True, default="")),
                    ],
                    options={
                        "ordering": ["-started_at"],
                        "indexes": [
                            models.Index(fields=["content_type", "-started_at"], name="training_type_started_idx")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("status", "running")),
                                fields=("content_type",),
                                name="training_one_running_per_type",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
