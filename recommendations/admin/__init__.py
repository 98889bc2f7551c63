"""Admin of the recommender: the catalog (search, hide, similar items), the served models (roll back),
training runs and the interaction outbox. Each module registers its pages."""

from recommendations.admin import catalog, outbox, served_models, training

__all__ = ["catalog", "outbox", "served_models", "training"]
