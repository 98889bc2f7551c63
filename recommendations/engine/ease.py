"""EASE (Steck, WWW 2019): a linear item-item model in closed form, stored sparsified.

With X the users x items matrix of interaction weights, EASE solves
    min_B ||X - X B||^2 + lambda ||B||^2   subject to diag(B) = 0,
whose solution is B = I - P / diag(P) with P = (X^T X + lambda I)^-1 (column j divided by P_jj). A
user's scores are their weighted history row times B. The inverse is dense and O(n^3) to compute, so
EASE runs only for catalogs up to ``ease_max_items``; the served matrix keeps only the largest
weights, so a 20k-item catalog with 200 neighbours per item is 32 MB instead of 1.6 GB.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.linalg import lapack

from ..domain import CatalogItem
from .errors import InvalidData

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gram:
    """X^T X of the warm items (those with a positive weight) and which columns they are."""

    matrix: npt.NDArray[np.float32]
    warm: npt.NDArray[np.int64]  # column indices of X, row/column order of ``matrix``
    mean_diagonal: float
    counts: npt.NDArray[np.int64]  # positives per column of X (all columns)


def gram(interactions: sp.csr_matrix, *, max_items: int, head_items: int | None = None) -> Gram:
    """The item Gram matrix over items with at least one positive (cold columns add nothing).

    More than ``max_items`` warm items raise InvalidData before the n^2 matrix is allocated (a pinned
    EASE on a catalog that outgrew it fails its training instead of the machine's memory).
    ``head_items``: only that many of the most interacted warm items (ties by index), a partial EASE
    whose tail another model scores.
    """
    counts = np.diff(interactions.tocsc().indptr)
    warm = np.flatnonzero(counts > 0).astype(np.int64)
    if head_items is not None and warm.shape[0] > head_items:
        warm = np.sort(warm[np.lexsort((warm, -counts[warm]))[:head_items]])
    if warm.shape[0] == 0:
        raise InvalidData("no item has a positive interaction")
    if warm.shape[0] > max_items:
        raise InvalidData(f"catalog of {warm.shape[0]} items exceeds ease_max_items={max_items}")
    x = interactions[:, warm].astype(np.float32)
    matrix = np.asarray((x.T @ x).toarray(), dtype=np.float32)
    return Gram(matrix=matrix, warm=warm, mean_diagonal=float(np.diag(matrix).mean()), counts=counts.astype(np.int64))


# Rows per block when the inverse is made symmetric and scaled in place: a block of 1,024 rows of a
# 10k catalog is 40 MB, so each step works in cache-sized pieces instead of n^2 temporaries.
_BLOCK_ROWS = 1024
# BLAS threads for the inverse. One: on the shared 2 vCPUs two threads were a gamble, 1.7x faster on
# a quiet machine (6,000 items 1.6 s vs 2.6 s) but 2-4x slower than one whenever other jobs ran (load
# average 5: 5,200 items 6.2-17.1 s on two threads, 2.5-5.0 s on one; 1,600 items 6.8-9.5 s vs
# 0.16-0.37 s), and the training budget needs costs it can predict (bench/engine.py --costs).
INVERSE_THREADS = 1


def solve(g: Gram, lam: float, *, threads: int = INVERSE_THREADS) -> npt.NDArray[np.float32]:
    """The dense EASE weights over the warm items (float32; Cholesky, twice as fast as a general inverse).

    Works in one n x n array: LAPACK gets the Fortran view of it (the Gram matrix is symmetric, so that
    view is the same matrix), so neither call copies it, and the symmetric fill and the column scaling
    run in place. The previous version (three n^2 temporaries and two hidden Fortran copies) took 8.5 s
    for 8,000 items where this takes 3.4 s, with identical weights (both on 2 threads, timed side by
    side against commit b24c87a).
    """
    from threadpoolctl import threadpool_limits

    a = g.matrix.copy()
    a[np.diag_indices_from(a)] += np.float32(lam)
    # Set here, whatever the process's default (the evaluation command does not limit BLAS).
    with threadpool_limits(threads, "blas"):
        factor, info = lapack.spotrf(a.T, lower=False, overwrite_a=True)
        if info != 0:
            raise InvalidData(f"EASE Gram matrix is not positive definite (lapack info {info})")
        inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise InvalidData(f"EASE inverse failed (lapack info {info})")
    if not np.shares_memory(inverse, a):  # a LAPACK wrapper that copied would leave ``a`` stale
        a = np.ascontiguousarray(inverse.T)
    # The upper triangle of the Fortran view is the lower triangle of ``a``: mirror it upwards.
    n = a.shape[0]
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        a[start:stop, stop:] = a[stop:, start:stop].T
        block = a[start:stop, start:stop]
        block[...] = np.tril(block) + np.tril(block, -1).T
    # B = I - P / diag(P): column j divided by -P_jj, the diagonal then set to zero.
    a /= -np.diag(a).copy()
    np.fill_diagonal(a, 0.0)
    return a


def _magnitude_threshold(magnitude: npt.NDArray[np.float32], count: int) -> float:
    """The ``count``-th largest value of ``magnitude`` (exact).

    A full ``np.partition`` of n^2 values took 2.4 s at 10k items. Instead a sample gives a bound
    below which the top ``count`` almost surely do not reach (twice the share they need), and only the
    few values above it are partitioned; if the sample misjudged, the full partition runs.
    """
    flat = magnitude.ravel()
    if count >= flat.size:
        return 0.0
    sample = flat[np.random.default_rng(0).integers(0, flat.size, size=min(flat.size, 200_000))]
    bound = float(np.quantile(sample, max(0.0, 1.0 - 2.0 * count / flat.size)))
    above = flat[flat >= bound]
    if above.size < count:
        above = flat
    return float(np.partition(above, above.size - count)[above.size - count])


def sparsify(
    dense: npt.NDArray[np.float32], warm: npt.NDArray[np.int64], n_items: int, *, neighbours: int, minimum: int
) -> sp.csr_matrix:
    """Keep the ``n_warm * neighbours`` largest weights by magnitude, and each row's ``minimum`` largest.

    A global magnitude cut lost less than a per-row top-N with as many entries (ndcg@10 on the anime
    sample, 50 per item: 0.350 vs 0.338 per row; dense 0.350), since popular items need more weights
    than rare ones. The per-row minimum keeps every item's similar-items list; only rows the global
    cut left short are partitioned (a per-row ``argpartition`` of all rows took 5.7 s at 10k items).
    Negative weights are kept: they are how EASE says "users of i do not want j".
    """
    n_warm = warm.shape[0]
    magnitude = np.abs(dense)
    threshold = _magnitude_threshold(magnitude, min(n_warm * neighbours, dense.size))
    keep = magnitude >= max(threshold, np.finfo(np.float32).tiny)
    del magnitude
    per_row = min(minimum, n_warm - 1)
    if per_row > 0:
        short = np.flatnonzero(np.count_nonzero(keep & (dense > 0), axis=1) < per_row)
        if short.shape[0]:
            rows = dense[short]
            kth = np.partition(rows, n_warm - per_row, axis=1)[:, n_warm - per_row]
            keep[short] |= (rows >= kth[:, None]) & (rows > 0)
    rows_kept, cols_kept = np.nonzero(keep)
    matrix = sp.csr_matrix(
        (dense[rows_kept, cols_kept], (warm[rows_kept], warm[cols_kept])), shape=(n_items, n_items), dtype=np.float32
    )
    matrix.sort_indices()
    return matrix


# A cold item is placed at the mean of this many of the most popular warm items of each of its
# genres. All genre-mates (thousands for "Comedy") took 27 s per fit on the anime sample's 7,306 cold
# items; 20 per genre still says "a typical item of these genres" and took 4.7 s, 1.4 s since each
# set of mates is averaged once (bench/evaluate_real.py's anime split, load average ~3; the weights
# of both versions have the same entries, equal within 1e-8).
COLD_MATES_PER_GENRE = 20


def genre_cold_start(
    weights: sp.csr_matrix,
    item_ids: npt.NDArray[np.str_],
    warm: npt.NDArray[np.int64],
    catalog: Sequence[CatalogItem],
    *,
    neighbours: int,
    warm_counts: npt.NDArray[np.int64],
    column_weight: float = 1.0,
) -> sp.csr_matrix:
    """Give each cold item the mean row and column of popular warm items sharing its genres.

    A cold item (no positive interaction) has no weights at all, so nothing could ever score it. With
    the genre-mates' mean column it scores like a typical item of its genres for each user, and with
    their mean row it has similar items. Truncated to ``neighbours`` weights each way.
    ``warm_counts`` is the number of positives of each item (all columns); ``column_weight`` scales the
    scores users get for cold items (``cold_item_weight``).
    """
    n_items = item_ids.shape[0]
    is_warm = np.zeros(n_items, dtype=bool)
    is_warm[warm] = True
    genres_of = {item.item_id: item.genres for item in catalog}
    warm_by_genre: dict[str, list[int]] = {}
    for index in warm[np.lexsort((warm, -warm_counts[warm]))].tolist():  # most popular first
        for genre in genres_of.get(str(item_ids[index]), ()):
            mates = warm_by_genre.setdefault(genre, [])
            if len(mates) < COLD_MATES_PER_GENRE:
                mates.append(index)
    # Cold items with the same genres have the same mates, so each set of mates is averaged once
    # (1,725 sets for the anime sample's 7,029 cold items) and copied to its items.
    set_of: dict[tuple[int, ...], int] = {}
    placed: list[int] = []
    placed_set: list[int] = []
    for index in np.flatnonzero(~is_warm).tolist():
        peers = tuple(sorted({m for g in genres_of.get(str(item_ids[index]), ()) for m in warm_by_genre.get(g, ())}))
        if peers:
            placed.append(index)
            placed_set.append(set_of.setdefault(peers, len(set_of)))
    if not placed:
        return weights
    mate_sets = list(set_of)
    averaging = sp.csr_matrix(
        (
            np.concatenate([np.full(len(peers), 1.0 / len(peers)) for peers in mate_sets]),
            (np.repeat(np.arange(len(mate_sets)), [len(peers) for peers in mate_sets]), np.concatenate(mate_sets)),
        ),
        shape=(len(mate_sets), n_items),
    )
    placing = sp.csr_matrix(
        (np.ones(len(placed), dtype=np.float32), (placed, placed_set)), shape=(n_items, len(mate_sets))
    )
    cold_rows = placing @ _top_per_row(sp.csr_matrix(averaging @ weights), neighbours)
    cold_cols = (placing @ _top_per_row(sp.csr_matrix(averaging @ weights.T), neighbours)).T * column_weight
    logger.info("%d cold items placed at the mean of their genres' items", len(placed))
    out = sp.csr_matrix(weights + cold_rows + cold_cols, dtype=np.float32)
    out.sort_indices()
    return out


def _top_per_row(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Each row's ``n`` largest-magnitude entries."""
    matrix = matrix.tocsr()
    data, indptr = matrix.data, matrix.indptr
    keep = np.ones(data.shape[0], dtype=bool)
    for row in np.flatnonzero(np.diff(indptr) > n).tolist():
        start, end = int(indptr[row]), int(indptr[row + 1])
        keep[start:end] = False
        keep[start + np.argpartition(-np.abs(data[start:end]), n - 1)[:n]] = True
    coo = matrix.tocoo()
    return sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape, dtype=np.float32)
