"""Fixtures of the analytics tests: users, a real JWT from the token route, and an events poster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client

from tests.analytics.factories import EVENTS_URL, PASSWORD

PostEvents = Callable[..., Any]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # The production hasher costs about a second per login by design; these tests log in constantly.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(django_user_model: type[AbstractUser]) -> AbstractUser:
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


@pytest.fixture
def token(client: Client, user: AbstractUser) -> str:
    response = client.post(
        "/v1/auth/token/", {"username": user.username, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    access: str = response.json()["access"]
    return access


@pytest.fixture
def post_events(client: Client, token: str) -> PostEvents:
    def post(payload: Any, *, bearer: str | None = token) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return client.post(EVENTS_URL, payload, content_type="application/json", headers=headers)

    return post
