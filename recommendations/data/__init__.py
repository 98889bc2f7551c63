"""The interaction data service. Callers use ``get_interaction_store()`` and the ``InteractionStore`` interface."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from .store import InteractionStore

if TYPE_CHECKING:
    from .neo4j_store import Neo4jInteractionStore


def get_interaction_store() -> InteractionStore:
    """The store selected by settings.RECOMMENDATIONS_SOURCE: "neo4j" (the graph) or "database" (built-in)."""
    if settings.RECOMMENDATIONS_SOURCE == "neo4j":
        return get_graph_store()
    from .orm_store import OrmInteractionStore

    return OrmInteractionStore()


def get_graph_store() -> Neo4jInteractionStore:
    """The Neo4j store of the configured graph: NEO4J_GRAPH_PROFILE's names behind NEO4J_LABEL_PREFIX."""
    from .graph_profiles import get_profile
    from .neo4j_schema import GraphLabels
    from .neo4j_store import graph_store

    return graph_store(GraphLabels(settings.NEO4J_LABEL_PREFIX, get_profile(settings.NEO4J_GRAPH_PROFILE)))


__all__ = ["InteractionStore", "get_graph_store", "get_interaction_store"]
