"""Engine settings: interaction weights, LightFM hyperparameters, popularity windows.

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


def _cpu_count() -> int:
    return os.cpu_count() or 1


# Settings older models may carry in their metadata. Popularity moved to engine/popularity.py.
RETIRED_SETTINGS = frozenset({"popularity_window_days", "popularity_half_life_days", "trending_window_days"})


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
    low_rating_weight: float = 0.0

    # --- LightFM (WARP) hyperparameters ---
    # 32/64/128 components: ML 0.197/0.192/0.181, anime 0.282/0.293/0.286.
    no_components: int = 64
    # 10/20/30/50 epochs: ML 0.188/0.197/0.190/0.184, anime 0.281/0.285/0.291/0.287. 20 and 30 trade
    # a few percent in opposite directions; 20 trains a third faster.
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
    random_seed: int = 42
    # Popularity and trending are not configured here: they are one fixed definition shared with the
    # data service (engine/popularity.py), so the popular list is the same with a model and without.

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", float):
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
            "rating_exponent", "low_rating_weight", "item_alpha", "user_alpha",
        )  # fmt: skip
        for name in non_negative:
            if getattr(self, name) < 0:
                raise InvalidConfig(f"{name} must be >= 0")
        positive = (
            "no_components", "epochs", "learning_rate", "max_sampled", "num_threads",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise InvalidConfig(f"{name} must be > 0")
        if not 0.0 <= self.low_rating_fraction <= 1.0:
            raise InvalidConfig("low_rating_fraction must be between 0 and 1")
        if self.loss not in LOSSES:
            raise InvalidConfig(f"loss must be one of {', '.join(LOSSES)}")
        if self.loss == "warp-kos":
            # LightFM cannot combine k-OS with sample weights, and weights are how interaction kinds differ.
            raise InvalidConfig("loss 'warp-kos' does not support interaction weights")

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
