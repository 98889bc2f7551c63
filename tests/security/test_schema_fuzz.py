"""Property-based fuzzing of every operation in our OpenAPI schema (/v1/schema/) with schemathesis.

Authenticated as a regular user against a live server (scripts/serve.sh); a bounded number of generated examples
per operation. Every response must be documented by the schema and match it, and none may be a 5xx.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import SEEDED_USER_ID, make_user
from tests.reliability.support import bearer, database_url, live_server, record_figure

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_generated_requests_get_no_5xx_and_responses_match_the_schema(trained_model_dir: Path, tmp_path: Path) -> None:
    make_user(SEEDED_USER_ID)
    headers = bearer(SEEDED_USER_ID)
    statuses: dict[int, int] = {}
    operations = 0
    with live_server(
        tmp_path, DATABASE_URL=database_url(connection.settings_dict), RECOMMENDATIONS_SOURCE="database",
        MODEL_DIR=str(trained_model_dir),
    ) as server:  # fmt: skip
        schema = schemathesis.openapi.from_url(f"{server.url}/v1/schema/")
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an invalid operation raises here
            operations += 1

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(data=st.data())
            def exercise(data: st.DataObject) -> None:
                case = data.draw(operation.as_strategy())  # noqa: B023  # run at once, inside this iteration
                response = case.call(base_url=server.url, headers=headers, timeout=30)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            exercise()

    examples = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    assert operations >= 8
    assert server_errors == 0
    record_figure(
        "schemathesis_fuzz",
        operations=operations,
        examples_generated=examples,
        responses_5xx=server_errors,
        responses_by_status={str(k): v for k, v in sorted(statuses.items())},
    )
