"""Vectorised top-k ranking metrics over (users x k) matrices of recommended item indices.

Conventions (the ones RecBole and most papers use): recall divides by all of the user's relevant
items; NDCG uses binary relevance with the ideal DCG of min(relevant, k) hits; users without any
relevant item are left out by the caller. ``-1`` in a top-k row means "nothing recommended there".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IndexArray = npt.NDArray[np.int64]


def hit_matrix(top_k: IndexArray, relevant: sp.csr_matrix) -> npt.NDArray[np.bool_]:
    """hits[u, r] is True when the item at rank r of user u is relevant to u (row u of ``relevant``)."""
    n_users, n_items = relevant.shape
    if top_k.shape[0] != n_users:
        raise ValueError("top_k and relevant must have one row per user")
    coo = relevant.tocoo()
    relevant_keys = np.sort(coo.row.astype(np.int64) * n_items + coo.col)
    keys = np.arange(n_users, dtype=np.int64)[:, None] * n_items + top_k
    if relevant_keys.shape[0] == 0:
        return np.zeros(top_k.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(relevant_keys, keys), relevant_keys.shape[0] - 1)
    # top_k == -1 would alias the previous user's last item, hence the explicit mask.
    return np.asarray((relevant_keys[pos] == keys) & (top_k >= 0))


def _relevant_counts(relevant: sp.csr_matrix) -> npt.NDArray[np.float64]:
    indptr: npt.NDArray[np.int64] = np.asarray(relevant.indptr, dtype=np.int64)
    return np.diff(indptr).astype(np.float64)


def precision_at_k(top_k: IndexArray, relevant: sp.csr_matrix, k: int) -> float:
    hits = hit_matrix(top_k[:, :k], relevant)
    return float(np.mean(hits.sum(axis=1) / k))


def recall_at_k(top_k: IndexArray, relevant: sp.csr_matrix, k: int) -> float:
    hits = hit_matrix(top_k[:, :k], relevant)
    return float(np.mean(hits.sum(axis=1) / np.maximum(_relevant_counts(relevant), 1.0)))


def ndcg_at_k(top_k: IndexArray, relevant: sp.csr_matrix, k: int) -> float:
    hits = hit_matrix(top_k[:, :k], relevant)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts[: hits.shape[1]]).sum(axis=1)
    ideal_hits = np.minimum(_relevant_counts(relevant), k).astype(np.int64)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_hits]
    return float(np.mean(np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)))


def catalog_coverage(top_k: IndexArray, n_items: int) -> float:
    """Share of the catalog that appears in at least one list: 1/n_items means everyone gets the same."""
    shown = np.unique(top_k[top_k >= 0])
    return float(shown.shape[0] / n_items) if n_items else 0.0


def auc(scores: npt.NDArray[np.float32], relevant: sp.csr_matrix, candidates: npt.NDArray[np.bool_]) -> float:
    """Mean per-user ROC AUC of relevant vs other candidate items, from full score rows.

    Uses the rank-sum (Mann-Whitney) form with average ranks for ties; users with no relevant or no
    irrelevant candidate are left out.
    """
    from scipy.stats import rankdata

    relevant_mask = relevant.toarray().astype(bool) & candidates
    masked = np.where(candidates, scores, -np.inf)
    ranks = rankdata(masked, axis=1)  # -inf (non-candidates) take the lowest ranks
    n_excluded = (~candidates).sum(axis=1)
    n_pos = relevant_mask.sum(axis=1)
    n_neg = candidates.sum(axis=1) - n_pos
    rank_sum = np.where(relevant_mask, ranks - n_excluded[:, None], 0.0).sum(axis=1)
    valid = (n_pos > 0) & (n_neg > 0)
    per_user = (rank_sum[valid] - n_pos[valid] * (n_pos[valid] + 1) / 2.0) / (n_pos[valid] * n_neg[valid])
    return float(per_user.mean()) if per_user.size else float("nan")
