"""get_interaction_store() follows settings.RECOMMENDATIONS_SOURCE."""

from __future__ import annotations

from django.test import override_settings

from recommendations.data import get_interaction_store
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.orm_store import OrmInteractionStore


def test_the_database_source_selects_the_built_in_store() -> None:
    with override_settings(RECOMMENDATIONS_SOURCE="database"):
        assert isinstance(get_interaction_store(), OrmInteractionStore)


def test_the_neo4j_source_selects_the_graph_store_with_the_unprefixed_labels() -> None:
    with override_settings(RECOMMENDATIONS_SOURCE="neo4j", NEO4J_URI="bolt://127.0.0.1:1"):
        store = get_interaction_store()
    assert isinstance(store, Neo4jInteractionStore)
    assert store.labels.user == "User"
