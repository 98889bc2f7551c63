"""The training budget: what a candidate will cost, estimated before it is tried, and whether it still fits.

``training_budget_s`` covers the whole training of a content type: the validation split, the popularity
windows, every grid point's validation fit and scoring, and the refit of the winner on all data. A
grid point is tried only if

    elapsed + its validation fit and scoring + max(refit of the best so far, its own refit) <= budget

so whichever of the two wins, its refit still fits. One that does not is skipped, with the reason
logged and recorded in its Trial. Popularity always runs: it is the baseline and what cold users get,
and costs one scoring pass per window.

The estimates are rates measured on the development machine (2 vCPUs; ``bench/engine.py --costs``
prints them), corrected in each run by the ratio of each measured fit to its estimate, per model:
a busier or slower machine corrects the estimates of a model after its first fit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# EASE fit (Gram matrix, Cholesky inverse on one BLAS thread, sparsification) of n warm items:
# a * n^3 + b * n^2 seconds. Measured: 4,000 items 1.1 s, 8,000 items 7.8 s (inverse 6.3-7.2 s),
# 12,000 items 22.4 s (``bench/engine.py --costs``, best of 3, load average 1.7-2.6).
EASE_SECONDS_PER_ITEM_CUBED = 1.3e-11
EASE_SECONDS_PER_ITEM_SQUARED = 2.0e-8
# implicit ALS (conjugate gradient), per positive x iteration x factor, and LightFM WARP per positive x
# epoch, both on 2 threads: 32 factors x 15 iterations over 649k positives took 3.2 s, 5 LightFM
# epochs 7.3 s (same command). The shared notes measured half that on a quieter day; each run
# corrects the estimates by its first measured fit.
ALS_SECONDS_PER_POSITIVE_ITERATION_FACTOR = 1.0e-8
LIGHTFM_SECONDS_PER_POSITIVE_EPOCH = 2.0e-6
# Spark MLlib's implicit ALS on local[2], same units as ALS above: 1M pairs x 32 factors x 15
# iterations took 96 s (load average 4.7 from others' jobs; bench/scale.py measures it) -- 20x
# implicit on the same two cores: Spark's shuffles and JVM blocks cost more than they parallelise
# here. Every fit also pays a fixed price whatever its size: writing the pairs' Parquet, planning the
# jobs, collecting the factors (about 4 s on local[2] for a few thousand pairs, bench/scale.py). On a
# cluster the first fit corrects the rate.
SPARK_ALS_SECONDS_PER_POSITIVE_ITERATION_FACTOR = 2.0e-7
SPARK_ALS_FIXED_S = 4.0
MIN_INFORMATIVE_FIT_S = 0.5
# RP3beta / item-kNN (engine/neighbourhood.py): blocks of dense item rows, so ~ n_items^2: Last.fm's
# 11.4k items 1.6 s, 15.7k items over 665k pairs 2.6 s (one thread, load average 2.6).
RP3BETA_SECONDS_PER_ITEM_SQUARED = 1.2e-8


@dataclass(frozen=True)
class Sizes:
    """What the estimates depend on: the older part (validation fits) and all data (the refit)."""

    events: int  # of the older part
    events_all: int
    positives: int  # positive (user, item) pairs of the older part
    warm_items: int  # items with a positive in the older part (EASE's Gram matrix)
    warm_items_all: int
    items: int  # columns of the older part's matrix

    @property
    def growth(self) -> float:
        """How much more data the refit sees: costs linear in the data scale by this."""
        return self.events_all / max(self.events, 1)


@dataclass(frozen=True)
class Cost:
    validation_s: float  # fit on the older part and scoring of the validation users
    refit_s: float  # the same grid point fitted on all data


def ease_fit_seconds(n_items: int) -> float:
    n = float(n_items)
    return EASE_SECONDS_PER_ITEM_CUBED * n**3 + EASE_SECONDS_PER_ITEM_SQUARED * n**2


@dataclass
class Budget:
    """The clock of one training run and the cost estimates of its candidates."""

    total_s: float
    sizes: Sizes
    started: float = field(default_factory=time.perf_counter)
    reserved_s: float = 0.0  # the refit estimate of the best candidate so far
    # Building the matrix of all data and assembling an artifact (popularity, trending, seen items):
    # part of every refit; timed on the older part, scaled to all data (``learn_refit_overhead``).
    refit_overhead_s: float = 0.0
    _fit_correction: dict[str, float] = field(default_factory=dict)
    _scoring_s: dict[str, float] = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def fits(self, cost: Cost) -> bool:
        return self.elapsed() + cost.validation_s + max(self.reserved_s, cost.refit_s) <= self.total_s

    def fits_share(self, cost: Cost, share: float) -> bool:
        """``cost`` (its validation and refit) takes at most ``share`` of the time left."""
        left = self.total_s - self.elapsed()
        return cost.validation_s + max(self.reserved_s, cost.refit_s) <= share * left

    def shortfall(self, cost: Cost) -> str:
        """Why ``cost`` does not fit, with the numbers (the recorded skip reason)."""
        left = max(self.total_s - self.elapsed(), 0.0)
        return (
            f"validation ~{cost.validation_s:.1f}s + refit ~{max(self.reserved_s, cost.refit_s):.1f}s exceed "
            f"the {left:.1f}s left of training_budget_s={self.total_s:g}"
        )

    def reserve(self, refit_s: float) -> None:
        """A new best candidate: its refit is what must still fit from now on."""
        self.reserved_s = refit_s

    # --- learning from what ran -----------------------------------------------------------------------

    def learn_fit(self, model: str, measured_s: float, estimated_s: float) -> None:
        """Correct this model's later estimates by how far the last one was off.

        Fits under half a second on either side are mostly fixed overheads, which say nothing about
        the rate of a larger fit, so they teach nothing.
        """
        if min(estimated_s, measured_s) >= MIN_INFORMATIVE_FIT_S:
            self._fit_correction[model] = measured_s / estimated_s

    def learn_refit_overhead(self, seconds_on_older_part: float) -> None:
        self.refit_overhead_s = seconds_on_older_part * self.sizes.growth

    def learn_scoring(self, model: str, measured_s: float) -> None:
        self._scoring_s[model] = measured_s

    def scoring_s(self, model: str) -> float:
        """One scoring pass of the validation users: this model's last, else the slowest one so far.

        Popularity is always scored first, so every other model has an estimate to start from.
        """
        if model in self._scoring_s:
            return self._scoring_s[model]
        return max(self._scoring_s.values(), default=0.0)

    def corrected(self, model: str, seconds: float) -> float:
        """An estimate times this model's correction; before its first fit, the mean of the others'.

        In a bench/engine.py training under load average 2.2 (others' jobs on the same 2 cores), ALS
        ran at 4.5x and LightFM at 3.6x the rates of a quiet day: slowness is mostly the machine's.
        """
        if model in self._fit_correction:
            return seconds * self._fit_correction[model]
        known = list(self._fit_correction.values())
        return seconds * (sum(known) / len(known) if known else 1.0)

    # --- the candidates' costs ----------------------------------------------------------------------

    def ease_fit(self) -> float:
        """One EASE fit on the older part, uncorrected (what ``learn_fit`` compares a measured fit to)."""
        return ease_fit_seconds(self.sizes.warm_items)

    def ease(self) -> Cost:
        """One lambda of EASE: its inverse on the older part (and scoring); the refit inverts all warm items."""
        refit = self.corrected("ease", ease_fit_seconds(self.sizes.warm_items_all))
        return Cost(self.corrected("ease", self.ease_fit()) + self.scoring_s("ease"), refit + self.refit_overhead_s)

    def ease_head(self, head_items: int) -> Cost:
        """EASE over the ``head_items`` most interacted items, blended with RP3beta for the tail."""
        fit = self.corrected("ease", ease_fit_seconds(head_items)) + self.rp3beta_fit_corrected()
        return Cost(fit + self.scoring_s("ease"), fit * self.sizes.growth**0.5 + self.refit_overhead_s)

    def ease_head_items(self, *, fraction: float = 0.5) -> int:
        """The most items a partial EASE (validation fit and refit) can afford with ``fraction`` of what is left."""
        left = max(self.total_s - self.elapsed() - self.reserved_s, 0.0) * fraction
        per_fit = left / 2.0 - self.rp3beta_fit_corrected() - self.scoring_s("ease")
        low, high = 0, self.sizes.warm_items_all
        while low < high:  # the largest n with a corrected fit within per_fit
            mid = (low + high + 1) // 2
            if self.corrected("ease", ease_fit_seconds(mid)) <= per_fit:
                low = mid
            else:
                high = mid - 1
        return low

    def rescoring(self, model: str, refit_s: float) -> Cost:
        """Another scoring setting of fitted item-item weights: one scoring pass, the same refit."""
        return Cost(self.scoring_s(model), refit_s)

    def rp3beta_fit(self, *, all_data: bool = False) -> float:
        """Over the warm items only (engine/neighbourhood.py leaves cold columns out)."""
        items = self.sizes.warm_items_all if all_data else self.sizes.warm_items
        return RP3BETA_SECONDS_PER_ITEM_SQUARED * float(items) ** 2

    def rp3beta_fit_corrected(self) -> float:
        return self.corrected("rp3beta", self.rp3beta_fit(all_data=True))

    def rp3beta(self) -> Cost:
        fit = self.corrected("rp3beta", self.rp3beta_fit())
        return Cost(fit + self.scoring_s("rp3beta"), self.rp3beta_fit_corrected() + self.refit_overhead_s)

    def blend(self, ease_refit_s: float) -> Cost:
        """An EASE + RP3beta blend of fitted weights: one scoring pass; the refit fits both."""
        return Cost(self.scoring_s("ease"), ease_refit_s + self.rp3beta_fit_corrected())

    def als_fit(self, factors: int, iterations: int) -> float:
        return ALS_SECONDS_PER_POSITIVE_ITERATION_FACTOR * self.sizes.positives * iterations * factors

    def als(self, factors: int, iterations: int) -> Cost:
        fit = self.corrected("als", self.als_fit(factors, iterations))
        return Cost(fit + self.scoring_s("als"), fit * self.sizes.growth + self.refit_overhead_s)

    def spark_als_fit(self, factors: int, iterations: int, *, positives: float | None = None) -> float:
        units = (self.sizes.positives if positives is None else positives) * iterations * factors
        return SPARK_ALS_FIXED_S + SPARK_ALS_SECONDS_PER_POSITIVE_ITERATION_FACTOR * units

    def spark_als(self, factors: int, iterations: int) -> Cost:
        """A Spark fit costs its fixed part again on all data; only the rest grows with the data."""
        fit = self.corrected("spark_als", self.spark_als_fit(factors, iterations))
        refit = self.corrected(
            "spark_als", self.spark_als_fit(factors, iterations, positives=self.sizes.positives * self.sizes.growth)
        )
        return Cost(fit + self.scoring_s("spark_als"), refit + self.refit_overhead_s)

    def lightfm_fit(self, epochs: int) -> float:
        return LIGHTFM_SECONDS_PER_POSITIVE_EPOCH * self.sizes.positives * epochs

    def lightfm(self, more_epochs: int, total_epochs: int) -> Cost:
        """``more_epochs`` on the older part (then a scoring); the refit runs ``total_epochs`` on all data."""
        refit = self.corrected("lightfm", self.lightfm_fit(total_epochs)) * self.sizes.growth
        validation = self.corrected("lightfm", self.lightfm_fit(more_epochs)) + self.scoring_s("lightfm")
        return Cost(validation, refit + self.refit_overhead_s)

    def popularity(self) -> Cost:
        return Cost(self.scoring_s("popularity"), self.refit_overhead_s)

    def summary(self) -> dict[str, float]:
        return {
            "training_budget_s": self.total_s,
            "selection_s": round(self.elapsed(), 3),
            "reserved_refit_s": round(self.reserved_s, 3),
        }
