"""The recommendation engine: pure Python on arrays, no Django.

The operations the rest of the project calls:

- ``train_model(arrays, catalog, config) -> ModelArtifact``: fit on all interactions of a content type.
- ``save_artifact(artifact, model_dir, content_type)``: atomically publish it as the current version.
- ``ModelStore(model_dir).current(content_type) -> ModelArtifact``: the served model, hot-reloaded.
- ``Recommender(artifact).recommend(user_id, k=, offset=, history=, exclude=, diversity=)``,
  ``.similar_items(item_id, k=, offset=)``, ``.popular(...)``, ``.recommend_batch(user_ids, k=)``.
- ``evaluation.evaluate(train, test, config=...)``: offline metrics against the popularity baseline.
"""

from .artifact import ModelArtifact, ModelStore, load_artifact, save_artifact
from .config import EngineConfig
from .errors import (
    CorruptModel,
    EngineError,
    EngineUnavailable,
    InvalidConfig,
    InvalidData,
    ModelNotFound,
    UnknownItem,
)
from .serving import History, Recommendation, RecommendationList, Recommender, SimilarItem
from .train import train_model

__all__ = [
    "CorruptModel",
    "EngineConfig",
    "EngineError",
    "EngineUnavailable",
    "History",
    "InvalidConfig",
    "InvalidData",
    "ModelArtifact",
    "ModelNotFound",
    "ModelStore",
    "Recommendation",
    "RecommendationList",
    "Recommender",
    "SimilarItem",
    "UnknownItem",
    "load_artifact",
    "save_artifact",
    "train_model",
]
