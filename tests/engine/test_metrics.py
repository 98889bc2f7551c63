from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.metrics import (
    auc,
    catalog_coverage,
    hit_matrix,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

# User 0 finds relevant items at ranks 1 and 3 of 3 relevant; user 1 at rank 2 of 1 relevant.
TOP = np.array([[4, 0, 2], [1, 3, -1]], dtype=np.int64)
RELEVANT = sp.csr_matrix(
    (np.ones(4), ([0, 0, 0, 1], [4, 2, 5, 3])),
    shape=(2, 6),
)


def test_hits_mark_relevant_items_and_never_the_padding() -> None:
    assert hit_matrix(TOP, RELEVANT).tolist() == [[True, False, True], [False, True, False]]


def test_precision_is_hits_over_k_averaged_over_users() -> None:
    assert precision_at_k(TOP, RELEVANT, 3) == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_recall_is_hits_over_all_relevant_items() -> None:
    assert recall_at_k(TOP, RELEVANT, 3) == pytest.approx((2 / 3 + 1 / 1) / 2)


def test_ndcg_matches_the_hand_computed_value() -> None:
    user0 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    user1 = (1 / math.log2(3)) / 1.0
    assert ndcg_at_k(TOP, RELEVANT, 3) == pytest.approx((user0 + user1) / 2)


def test_metrics_at_a_smaller_k_use_only_the_first_places() -> None:
    assert precision_at_k(TOP, RELEVANT, 1) == pytest.approx(0.5)
    assert ndcg_at_k(TOP, RELEVANT, 1) == pytest.approx(0.5)


def test_coverage_counts_distinct_recommended_items_over_the_catalog() -> None:
    assert catalog_coverage(TOP, 10) == pytest.approx(5 / 10)


def test_auc_matches_the_pairwise_definition() -> None:
    scores = np.array([[0.9, 0.1, 0.8, 0.3], [0.2, 0.4, 0.6, 0.6]], dtype=np.float32)
    relevant = sp.csr_matrix(np.array([[1, 0, 0, 1], [0, 0, 1, 0]]))
    candidates = np.array([[True, True, True, True], [False, True, True, True]])
    # User 0: positives 0.9, 0.3 vs negatives 0.1, 0.8 -> 3 of 4 pairs right.
    # User 1 (item 0 not a candidate): positive 0.6 vs 0.4 (right) and 0.6 (tie, half) -> 1.5 of 2.
    assert auc(scores, relevant, candidates) == pytest.approx((0.75 + 0.75) / 2)
