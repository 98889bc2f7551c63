"""setup_graph creates the constraints and indexes, idempotently, and the graph enforces them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from neo4j.exceptions import ConstraintError

from musicbud import graph
from recommendations.data.neo4j_schema import REL_TYPES, GraphLabels, schema_names
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.domain import ContentType


@pytest.mark.usefixtures("neo4j_settings")
def test_setup_graph_creates_the_constraints_and_indexes_and_can_run_again() -> None:
    call_command("setup_graph", verbosity=0)
    call_command("setup_graph", verbosity=0)
    names = schema_names(graph.get_driver())
    assert set(GraphLabels().constraints()) <= names
    assert {f"interaction_{rel.lower()}_ts" for rel in REL_TYPES.values()} <= names


def test_a_second_user_or_item_with_the_same_key_is_refused(graph_store: Neo4jInteractionStore) -> None:
    assert set(graph_store.labels.constraints()) <= schema_names(graph.get_driver())
    driver = graph.get_driver()
    user, movie = graph_store.labels.user, graph_store.labels.item(ContentType.MOVIES)
    driver.execute_query(f"CREATE (:`{user}` {{user_id: 1}})")
    with pytest.raises(ConstraintError):
        driver.execute_query(f"CREATE (:`{user}` {{user_id: 1}})")
    driver.execute_query(f"CREATE (:`{movie}` {{imdb_id: 'tt0000001'}})")
    with pytest.raises(ConstraintError):
        driver.execute_query(f"CREATE (:`{movie}` {{imdb_id: 'tt0000001'}})")
