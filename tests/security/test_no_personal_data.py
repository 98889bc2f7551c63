"""Saved models and training logs hold ids only: no username, email or password of any user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict

from recommendations.data import get_interaction_store
from recommendations.data.loading import write_dataset
from recommendations.data.seeding import SeedSpec, generate_content
from recommendations.domain import ContentType
from recommendations.models import TrainingLog
from recommendations.training import acquire_training, train_content_type
from tests.reliability.support import record_figure

SPEC = SeedSpec(users=30, items={ContentType.MOVIES: 40, ContentType.MANGA: 20, ContentType.ANIME: 30}, seed=5,
                interactions_per_user=10, months=3)  # fmt: skip
PASSWORD = "Secret-Passphrase-Of-The-User"


def personal_strings(users: list[Any]) -> set[str]:
    found: set[str] = set()
    for user in users:
        found |= {user.username, user.email, user.email.split("@")[0], user.password, user.first_name}
    found.add(PASSWORD)
    return {value for value in found if value}


@pytest.mark.django_db(transaction=True)
def test_model_files_and_training_logs_contain_no_personal_data(settings: Any, tmp_path: Path) -> None:
    settings.MODEL_DIR = tmp_path / "models"
    settings.RECOMMENDATIONS_ENGINE = {"no_components": 8, "epochs": 3, "num_threads": 1}
    # Every user of the data exists, with distinctive personal data that would stand out in a file.
    users = [
        get_user_model().objects.create_user(
            id=user_id, username=f"zelda.quartz{user_id}", email=f"zelda.quartz{user_id}@mail.example",
            password=PASSWORD, first_name=f"Zeldaqz{user_id}",
        )
        for user_id in range(1, SPEC.users + 1)
    ]  # fmt: skip
    store = get_interaction_store()
    store.ensure_schema()
    for ct in ContentType:
        write_dataset(store, generate_content(SPEC, ct), progress=False)
        train_content_type(ct, triggered_by="cli")
    # A run started by a person (API/admin) and one that failed are logged too.
    staff = users[0]
    failed = acquire_training(ContentType.MOVIES, triggered_by=f"api:{staff.pk}")
    failed.status, failed.error = "failed", "GraphUnavailable: test"
    failed.save()

    needles = personal_strings(users)
    files = [path for path in Path(settings.MODEL_DIR).rglob("*") if path.is_file()]
    assert len(files) >= 3 * 14
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, (path, needle)
            assert needle.encode("utf-32-le") not in content, (path, needle)  # numpy's str arrays
    logs = list(TrainingLog.objects.all())
    for log in logs:
        text = repr(model_to_dict(log))
        for needle in needles:
            assert needle not in text, (log.pk, needle)
    record_figure("no_personal_data", model_files=len(files), training_logs=len(logs), users=len(users))
