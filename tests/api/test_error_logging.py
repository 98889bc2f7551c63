"""Logs: one line per client error (4xx), carrying its status, its stable error code, the method and path."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import asgi_client

from .conftest import Api


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name in ("musicbud.api", "django.request")]


async def test_a_bad_request_is_logged_once_with_its_error_code(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        response = await api.get("/v1/recommendations/movies/", limit="abc")
    assert response.status_code == 400
    assert _lines(caplog) == ["400 invalid_input: GET /v1/recommendations/movies/"]


async def test_an_unauthenticated_call_is_logged_once_with_its_error_code(
    transactional_db: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await asgi_client().get("/v1/recommendations/")
    assert response.status_code == 401
    assert _lines(caplog) == ["401 not_authenticated: GET /v1/recommendations/"]


def test_django_has_no_console_handler_of_its_own_that_would_print_every_4xx_a_second_time() -> None:
    handlers = logging.getLogger("django").handlers
    assert not any(isinstance(h, logging.StreamHandler) for h in handlers)
    assert logging.getLogger("django").propagate  # its lines reach the root's one console handler
