"""Builders for engine tests: tiny interaction arrays and hand-made artifacts with known geometry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from recommendations.domain import InteractionArrays, InteractionKind
from recommendations.engine.artifact import ModelArtifact, UserItems, new_version
from recommendations.engine.config import EngineConfig


def events(rows: Sequence[tuple[int, str, InteractionKind, float | None, int]]) -> InteractionArrays:
    """(user, item, kind, value or None, timestamp) rows -> InteractionArrays."""
    return InteractionArrays(
        user_ids=np.array([r[0] for r in rows], dtype=np.int64),
        item_ids=np.array([r[1] for r in rows], dtype=np.str_),
        kinds=np.array([int(r[2]) for r in rows], dtype=np.int8),
        values=np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float32),
        timestamps=np.array([r[4] for r in rows], dtype=np.int64),
    )


def make_artifact(
    *,
    item_factors: Sequence[Sequence[float]],
    user_factors: Mapping[int, Sequence[float]],
    seen: Mapping[int, Mapping[int, float]] | None = None,
    item_biases: Sequence[float] | None = None,
    popularity: Sequence[float] | None = None,
    item_ids: Sequence[str] | None = None,
) -> ModelArtifact:
    """An artifact whose scores are known by construction (no training, fully deterministic).

    ``seen`` maps user id -> {item index: weight}; item ids default to i00, i01, ... (sorted order).
    """
    items = np.array(item_factors, dtype=np.float32)
    n_items = items.shape[0]
    ids = np.array(item_ids or [f"i{n:02d}" for n in range(n_items)], dtype=np.str_)
    assert list(ids) == sorted(ids), "item ids must be given in sorted order"
    users = sorted(user_factors)
    seen = seen or {}
    indptr: list[int] = [0]
    indices: list[int] = []
    weights: list[float] = []
    for user in users:
        row = sorted(seen.get(user, {}).items())
        indices.extend(i for i, _ in row)
        weights.extend(w for _, w in row)
        indptr.append(len(indices))
    config = EngineConfig()
    return ModelArtifact(
        user_ids=np.array(users, dtype=np.int64),
        item_ids=ids,
        user_factors=np.array([user_factors[u] for u in users], dtype=np.float32).reshape(len(users), -1),
        user_biases=np.zeros(len(users), dtype=np.float32),
        item_factors=items,
        item_biases=np.array(item_biases if item_biases is not None else [0.0] * n_items, dtype=np.float32),
        item_norms=np.linalg.norm(items, axis=1).astype(np.float32),
        popularity=np.array(popularity if popularity is not None else [0.0] * n_items, dtype=np.float32),
        trending=np.zeros(n_items, dtype=np.float32),
        seen=UserItems(
            indptr=np.array(indptr, dtype=np.int64),
            indices=np.array(indices, dtype=np.int32),
            weights=np.array(weights, dtype=np.float32),
        ),
        feature_names=np.empty(0, dtype=np.str_),
        metadata={
            "version": new_version(),
            "config": config.to_dict(),
            "rating_scale": 5.0,
            "user_vector_length": 1.0,
            "metrics": {},
        },
    )


def clustered_interactions(n_users: int = 60, items_per_cluster: int = 10, seed: int = 0) -> InteractionArrays:
    """Two taste clusters: even users like items a00..a09, odd users b00..b09; each user likes 6 of 10.

    The structure is strong enough that any working model recovers it whatever the thread schedule.
    """
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, str, InteractionKind, float | None, int]] = []
    for user in range(n_users):
        prefix = "a" if user % 2 == 0 else "b"
        for item in rng.choice(items_per_cluster, size=6, replace=False):
            rows.append((user, f"{prefix}{item:02d}", InteractionKind.LIKED, None, 1_000_000 + user))
    return events(rows)


def make_item_item_artifact(
    *,
    neighbours: Mapping[int, Mapping[int, float]],
    n_items: int,
    seen: Mapping[int, Mapping[int, float]],
    timestamps: Mapping[int, Mapping[int, int]] | None = None,
    popularity: Sequence[float] | None = None,
    scoring: Mapping[str, float] | None = None,
) -> ModelArtifact:
    """An item-item artifact with a hand-made neighbour matrix (row i: what liking item i adds to others)."""
    users = sorted(seen)
    timestamps = timestamps or {}
    indptr, indices, weights, stamps = [0], [], [], []
    for user in users:
        for item, weight in sorted(seen[user].items()):
            indices.append(item)
            weights.append(weight)
            stamps.append(timestamps.get(user, {}).get(item, 0))
        indptr.append(len(indices))
    n_ptr, n_idx, n_w = [0], [], []
    for item in range(n_items):
        for other, weight in sorted(neighbours.get(item, {}).items()):
            n_idx.append(other)
            n_w.append(weight)
        n_ptr.append(len(n_idx))
    return ModelArtifact(
        user_ids=np.array(users, dtype=np.int64),
        item_ids=np.array([f"i{n:02d}" for n in range(n_items)], dtype=np.str_),
        user_factors=np.zeros((len(users), 0), dtype=np.float32),
        user_biases=np.zeros(len(users), dtype=np.float32),
        item_factors=np.zeros((n_items, 0), dtype=np.float32),
        item_biases=np.zeros(n_items, dtype=np.float32),
        item_norms=np.zeros(n_items, dtype=np.float32),
        popularity=np.array(popularity if popularity is not None else [0.0] * n_items, dtype=np.float32),
        trending=np.zeros(n_items, dtype=np.float32),
        seen=UserItems(
            indptr=np.array(indptr, dtype=np.int64),
            indices=np.array(indices, dtype=np.int32),
            weights=np.array(weights, dtype=np.float32),
            timestamps=np.array(stamps, dtype=np.int64),
        ),
        feature_names=np.empty(0, dtype=np.str_),
        neighbours=UserItems(
            indptr=np.array(n_ptr, dtype=np.int64),
            indices=np.array(n_idx, dtype=np.int32),
            weights=np.array(n_w, dtype=np.float32),
        ),
        metadata={
            "version": new_version(),
            "kind": "item_item",
            "model": "ease",
            "config": EngineConfig().to_dict(),
            "rating_scale": 5.0,
            "user_vector_length": 0.0,
            "scoring": dict(scoring or {}),
            "metrics": {},
        },
    )


def timed_clusters(n_users: int = 240, seed: int = 0) -> InteractionArrays:
    """Two taste clusters spread over 100 days, each user liking 8 of their cluster's 12 items in turn.

    Every user is active over the whole period, so a global time cut leaves every user in both parts.
    """
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, str, InteractionKind, float | None, int]] = []
    for user in range(n_users):
        prefix = "a" if user % 2 == 0 else "b"
        for step, item in enumerate(rng.choice(12, size=8, replace=False)):
            stamp = 1_700_000_000 + step * 12 * 86_400 + int(rng.integers(0, 86_400))
            rows.append((user, f"{prefix}{item:02d}", InteractionKind.LIKED, None, stamp))
    return events(rows)
