"""RP3beta and item-kNN from co-occurrence: hand-computed weights on a tiny matrix, any block size."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine import neighbourhood
from recommendations.engine.neighbourhood import item_knn, rp3beta

# 4 users x 4 items: item 3 is liked by nobody.
X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [1, 0, 0, 0]], dtype=np.float32))


def dense_rp3beta(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    p_ui = x / np.maximum(x.sum(axis=1, keepdims=True), 1e-30)
    p_iu = x.T / np.maximum(x.T.sum(axis=1, keepdims=True), 1e-30)
    w = (p_iu**alpha) @ (p_ui**alpha)
    popularity = x.sum(axis=0)
    w = w * np.where(popularity > 0, np.maximum(popularity, 1.0) ** -beta, 0.0)
    np.fill_diagonal(w, 0.0)
    return np.asarray(w, dtype=np.float64)


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (0.75, 0.5)])
def test_rp3beta_is_the_three_step_walk_divided_by_popularity_to_the_beta(alpha: float, beta: float) -> None:
    weights = rp3beta(X, alpha=alpha, beta=beta, neighbours=10).toarray()
    assert weights == pytest.approx(dense_rp3beta(X.toarray().astype(np.float64), alpha, beta), abs=1e-6)


def test_rp3beta_keeps_the_largest_neighbours_of_each_row_and_never_the_item_itself() -> None:
    weights = rp3beta(X, alpha=1.0, beta=0.0, neighbours=1)
    dense = dense_rp3beta(X.toarray().astype(np.float64), 1.0, 0.0)
    for row in (0, 2):  # row 1 has a tie
        columns = weights[row].indices.tolist()
        assert columns == [int(np.argmax(dense[row]))]
    assert weights[1].nnz == 1
    assert weights[3].nnz == 0  # nobody liked item 3: no neighbours
    assert weights.diagonal().max() == 0.0


def test_blocks_give_the_same_weights_as_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = rp3beta(X, alpha=0.75, beta=0.3, neighbours=2).toarray()
    monkeypatch.setattr(neighbourhood, "BLOCK_ROWS", 1)
    assert rp3beta(X, alpha=0.75, beta=0.3, neighbours=2).toarray() == pytest.approx(whole)


def test_item_knn_is_the_cosine_of_co_occurrence() -> None:
    similar = item_knn(X, neighbours=10).toarray()
    # items 0 and 1 share users 0 and 1; item 0 has 3 users, item 1 has 3: 2 / sqrt(3 * 3)
    assert similar[0, 1] == pytest.approx(2 / 3)
    # items 1 and 2 share users 1 and 2; item 2 has 2 users: 2 / sqrt(3 * 2)
    assert similar[1, 2] == pytest.approx(2 / np.sqrt(6))
    assert similar[0, 2] == pytest.approx(1 / np.sqrt(6))
    assert similar == pytest.approx(similar.T)
    assert similar[3].max() == 0.0
    assert np.diag(similar).max() == 0.0
