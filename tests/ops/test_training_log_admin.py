"""The admin's training-log page shows which model each run chose and every candidate's validation ndcg."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from recommendations.engine import budget as budget_module
from recommendations.engine.selection import Selection, select_model
from recommendations.models import TrainingLog, TrainingStatus
from tests.analytics.factories import PASSWORD
from tests.engine.conftest import timed_clusters
from tests.engine.test_selection import config

pytestmark = pytest.mark.django_db

TRAINING = "/admin/recommendations/traininglog/"


@pytest.fixture
def staff_client(client: Client, django_user_model: Any) -> Client:
    staff = django_user_model.objects.create_user(username="operator", password=PASSWORD, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_traininglog"))
    client.force_login(staff)
    return client


def logged(selection: Selection, content_type: str = "anime") -> TrainingLog:
    """A finished run whose metrics hold a real selection summary, as recommendations.training writes it."""
    return TrainingLog.objects.create(
        content_type=content_type,
        status=TrainingStatus.SUCCEEDED,
        triggered_by="cron",
        k=selection.k,
        metrics={"selection": selection.summary()},
    )


def selection_cells(client: Client) -> list[str]:
    """The text of the page's "chosen model" column, one entry per run."""
    response = client.get(TRAINING)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Chosen model (validation ndcg of each candidate)" in page
    return [html.unescape(cell) for cell in re.findall(r'<td class="field-selection">(.*?)</td>', page)]


def per_model(cell: str) -> set[str]:
    """'ease(...) (popularity 0.277, ease 0.616)' -> {'popularity 0.277', 'ease 0.616'} (PostgreSQL's JSON
    keeps no key order, so neither does the column)."""
    return set(cell[cell.index(" (") + 2 : -1].split(", "))


def test_the_page_shows_the_chosen_candidate_and_each_models_best_validation_ndcg(staff_client: Client) -> None:
    selection = select_model(timed_clusters(), [], config(candidates=["ease", "als"]))
    logged(selection)
    best = {model: selection.best_of(model) for model in ("popularity", "ease", "als")}
    scores = {f"{model} {trial.metrics.ndcg:.3f}" for model, trial in best.items() if trial and trial.metrics}

    (cell,) = selection_cells(staff_client)

    assert cell.startswith(f"{selection.winner.label} (")
    assert per_model(cell) == scores
    assert len(scores) == 3
    assert selection.winner.model == "ease"  # the clusters are what EASE recovers


def test_a_model_none_of_whose_grid_ran_is_shown_as_skipped(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget_module, "ALS_SECONDS_PER_POSITIVE_ITERATION_FACTOR", 1.0)  # hours per fit
    selection = select_model(timed_clusters(), [], config(candidates=["als"]))
    logged(selection, "movies")

    (cell,) = selection_cells(staff_client)

    assert cell.startswith(f"{selection.winner.label} (")
    popularity = selection.best_of("popularity")
    assert popularity is not None
    assert popularity.metrics is not None
    assert per_model(cell) == {"als skipped", f"popularity {popularity.metrics.ndcg:.3f}"}


def test_a_run_without_a_selection_shows_a_dash(staff_client: Client) -> None:
    TrainingLog.objects.create(content_type="manga", status=TrainingStatus.FAILED, triggered_by="cli", error="boom")

    response = staff_client.get(TRAINING)

    assert response.status_code == 200
    changelist = response.context["cl"]
    row = changelist.result_list[0]
    assert changelist.model_admin.selection(row) == "-"


def test_staff_without_the_view_permission_cannot_see_the_page(client: Client, django_user_model: Any) -> None:
    client.force_login(django_user_model.objects.create_user(username="nobody", password=PASSWORD, is_staff=True))

    assert client.get(TRAINING).status_code == 403
