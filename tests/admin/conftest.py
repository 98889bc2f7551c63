"""Fixtures of the admin tests: the API's seeded store and models, and admin clients with and without rights."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.api.conftest import (
    PASSWORD,
    SEEDED_USER_ID,
    _fresh_cache,
    make_user,
    models,
    no_models,
    seeded,
    trained_model_dir,
)

__all__ = ["_fresh_cache", "models", "no_models", "seeded", "trained_model_dir"]

# What an operator is given: look at and act on the catalog and the models, look users up.
OPERATOR_PERMISSIONS = (
    "view_catalogentry", "change_catalogentry", "view_servedmodel", "change_servedmodel",
    "add_profilelookup", "view_profilelookup", "view_traininglog",
)  # fmt: skip


# Explicit ids above the seeded users': a test may also create accounts 1..80 with explicit ids, which leaves
# PostgreSQL's id sequence behind.
STAFF_IDS = {"operator": 9001, "viewer": 9002, "intern": 9003, "member": 9004}


def staff(django_user_model: Any, username: str, *permissions: str) -> Any:
    user = django_user_model.objects.create_user(
        id=STAFF_IDS[username], username=username, password=PASSWORD, is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


@pytest.fixture
def operator(django_user_model: Any) -> Any:
    return staff(django_user_model, "operator", *OPERATOR_PERMISSIONS)


@pytest.fixture
def operator_client(operator: Any) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(django_user_model: Any) -> Client:
    """Staff who may look at the catalog and the models, but not act on them."""
    client = Client()
    client.force_login(staff(django_user_model, "viewer", "view_catalogentry", "view_servedmodel"))
    return client


@pytest.fixture
def bare_staff_client(django_user_model: Any) -> Client:
    """Staff without any permission of these pages."""
    client = Client()
    client.force_login(staff(django_user_model, "intern"))
    return client


@pytest.fixture
def member_client(django_user_model: Any) -> Client:
    """A logged-in user who is not staff (a MusicBud member)."""
    client = Client()
    member = django_user_model.objects.create_user(id=STAFF_IDS["member"], username="member", password=PASSWORD)
    client.force_login(member)
    return client


def messages_of(response: Any) -> list[str]:
    """The admin messages a followed response shows."""
    return [str(m) for m in response.context["messages"]] if response.context else []


def cells(html: str, table_class: str, attribute: str = "data-item-id") -> list[str]:
    """The ``attribute`` of each row of the first table with this class."""
    start = html.index(f'class="operator-table {table_class}"') if table_class else 0
    end = html.index("</table>", start)
    return re.findall(rf'{attribute}="([^"]+)"', html[start:end])


def refused_to_member(response: Any) -> bool:
    """A non-staff user is sent to the admin's login page, never shown the page."""
    return bool(response.status_code == 302 and response["Location"].startswith("/admin/login/"))


class MemberApi:
    """The public API as the seeded member SEEDED_USER_ID calls it (their real access token, real routes)."""

    def __init__(self, user: Any) -> None:
        from rest_framework_simplejwt.tokens import AccessToken

        self.user = user
        self.client = Client(headers={"Authorization": f"Bearer {AccessToken.for_user(user)}"})

    def get(self, path: str, **query: Any) -> Any:
        response = self.client.get(path, query)
        assert response.status_code == 200, response.content
        return response

    def json(self, path: str, **query: Any) -> Any:
        return self.get(path, **query).json()


@pytest.fixture
def member_api(transactional_db: None) -> MemberApi:
    return MemberApi(make_user(SEEDED_USER_ID))
