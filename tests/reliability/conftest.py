"""The API tests' fixtures (seeded store, trained models), shared with the reliability tests."""

from __future__ import annotations

import pytest

from tests.api.conftest import _fresh_cache, api, models, no_models, seeded, trained_model_dir

__all__ = ["_fresh_cache", "api", "models", "no_models", "seeded", "trained_model_dir"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Boot the private Neo4j as soon as its test is selected, and run that test last.

    Its JVM needs up to a minute to start; booting it in the background overlaps that with the rest.
    """
    neo4j_items = [item for item in items if item.path.name == "test_neo4j_outage.py"]
    if not neo4j_items:
        return
    from tests.reliability.test_neo4j_outage import boot_in_background

    boot_in_background()
    items[:] = [item for item in items if item not in neo4j_items] + neo4j_items
