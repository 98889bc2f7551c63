"""The interaction data service. Callers use ``get_interaction_store()`` and the ``InteractionStore`` interface."""

from __future__ import annotations

from django.conf import settings

from .store import InteractionStore


def get_interaction_store() -> InteractionStore:
    """The store selected by settings.RECOMMENDATIONS_SOURCE: "neo4j" (the graph) or "database" (built-in)."""
    if settings.RECOMMENDATIONS_SOURCE == "neo4j":
        from .neo4j_schema import GraphLabels
        from .neo4j_store import Neo4jInteractionStore

        return Neo4jInteractionStore(GraphLabels(settings.NEO4J_LABEL_PREFIX))
    from .orm_store import OrmInteractionStore

    return OrmInteractionStore()


__all__ = ["InteractionStore", "get_interaction_store"]
