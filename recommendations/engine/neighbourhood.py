"""Sparse item-item neighbourhoods from co-occurrence: RP3beta (a candidate model) and item-kNN (similar items).

Both are built from the users x items matrix of positive weights X, one block of item rows at a time,
so memory stays at ``block x n_items`` floats whatever the catalog size (no n^2 matrix, no inverse):

- **RP3beta** (Paudel et al., ACM TiiS 2017): the probability of a 3-step random walk item -> user ->
  item, ``W = P_iu^alpha @ P_ui^alpha`` (P_iu = X^T row-normalised, P_ui = X row-normalised, the
  transition probabilities raised elementwise to ``alpha``), each column divided by the item's
  popularity ^ ``beta`` (so popular items do not top every row), the diagonal zeroed, the ``neighbours``
  largest of each row kept. Row i is what liking i adds to every other item, as for EASE: the same
  item-item kind of artifact and the same serving code.
- **item-kNN** (cosine of co-occurrence): ``c_ij / sqrt(c_i c_j)`` over binary positives, in [0, 1],
  the ``neighbours`` largest per item. Every served model keeps it (``ModelArtifact.similar``), so similar
  items, "because you liked" reasons and diversity mean something even when popularity is served.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

# Item rows per block: 1,024 rows of a 16k-item catalog is a 64 MB float32 block.
BLOCK_ROWS = 1024


def _row_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    scale = np.where(sums > 0, 1.0 / np.maximum(sums, 1e-30), 0.0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


def top_per_row(block: npt.NDArray[np.float32], n: int, offset: int, n_items: int) -> sp.csr_matrix:
    """The ``n`` largest positive entries of each row of a dense block, as CSR rows ``offset...``."""
    rows, width = block.shape
    n = min(n, width)
    if n <= 0:
        return sp.csr_matrix((rows, n_items), dtype=np.float32)
    if n < width:
        part = np.argpartition(-block, n - 1, axis=1)[:, :n]
    else:
        part = np.broadcast_to(np.arange(width), (rows, width))
    values = np.take_along_axis(block, part, axis=1)
    keep = values > 0
    row_index = np.repeat(np.arange(rows), n).reshape(rows, n)
    out = sp.csr_matrix(
        (values[keep].astype(np.float32), (row_index[keep], part[keep])), shape=(rows, n_items), dtype=np.float32
    )
    out.sort_indices()
    return out


def _on_warm_columns(build: Callable[[sp.csr_matrix], sp.csr_matrix], interactions: sp.csr_matrix) -> sp.csr_matrix:
    """``build`` over the columns with a positive only, mapped back to every column.

    A catalog's cold items (no positive: the anime sample's 7k of 12k) have no weights anyway, and the
    blocks cost columns^2: the anime sample's RP3beta took 17 s over all columns under load.
    """
    x = sp.csr_matrix(interactions)
    x.eliminate_zeros()
    n_items = x.shape[1]
    warm = np.flatnonzero(np.diff(x.tocsc().indptr) > 0)
    if warm.shape[0] == n_items:
        return build(x)
    inner = sp.coo_matrix(build(sp.csr_matrix(x[:, warm])))
    out = sp.csr_matrix((inner.data, (warm[inner.row], warm[inner.col])), shape=(n_items, n_items), dtype=np.float32)
    out.sort_indices()
    return out


def rp3beta(interactions: sp.csr_matrix, *, alpha: float, beta: float, neighbours: int) -> sp.csr_matrix:
    """The RP3beta item x item weights (see the module docstring), ``neighbours`` per row, float32."""
    return _on_warm_columns(partial(_rp3beta, alpha=alpha, beta=beta, neighbours=neighbours), interactions)


def item_knn(interactions: sp.csr_matrix, *, neighbours: int) -> sp.csr_matrix:
    """Cosine similarity of items' co-occurrence over binary positives, ``neighbours`` per row, float32."""
    return _on_warm_columns(partial(_item_knn, neighbours=neighbours), interactions)


def _rp3beta(interactions: sp.csr_matrix, *, alpha: float, beta: float, neighbours: int) -> sp.csr_matrix:
    x = sp.csr_matrix(interactions, dtype=np.float64)
    x.eliminate_zeros()
    n_items = x.shape[1]
    p_ui = _row_normalised(x)
    p_iu = _row_normalised(sp.csr_matrix(x.T))
    if alpha != 1.0:
        p_ui.data **= alpha
        p_iu.data **= alpha
    popularity = np.diff(x.tocsc().indptr).astype(np.float64)
    column_scale = np.where(popularity > 0, np.power(np.maximum(popularity, 1.0), -beta), 0.0).astype(np.float32)
    p_ui = sp.csr_matrix(p_ui, dtype=np.float32)
    p_iu = sp.csr_matrix(p_iu, dtype=np.float32)
    blocks = []
    for start in range(0, n_items, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n_items)
        block = np.asarray((p_iu[start:stop] @ p_ui).toarray(), dtype=np.float32)
        block *= column_scale
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        blocks.append(top_per_row(block, neighbours, start, n_items))
    out = sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=np.float32)
    out.sort_indices()
    return out


def _item_knn(interactions: sp.csr_matrix, *, neighbours: int) -> sp.csr_matrix:
    x = sp.csr_matrix(interactions, dtype=np.float32)
    x.eliminate_zeros()
    x.data[:] = 1.0
    n_items = x.shape[1]
    counts = np.diff(x.tocsc().indptr).astype(np.float32)
    inverse_norm = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0).astype(np.float32)
    xt = sp.csr_matrix(x.T)
    blocks = []
    for start in range(0, n_items, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n_items)
        block = np.asarray((xt[start:stop] @ x).toarray(), dtype=np.float32)
        block *= inverse_norm
        block *= inverse_norm[start:stop, None]
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        blocks.append(top_per_row(block, neighbours, start, n_items))
    out = sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=np.float32)
    out.sort_indices()
    return out
