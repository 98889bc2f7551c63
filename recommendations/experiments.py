"""A/B variants: which arm of the configured experiment a user is in.

The experiment is ``settings.RECOMMENDATIONS_EXPERIMENT`` (from the env var of the same name, JSON)::

    {"name": "model-vs-popular-2026-11", "variants": {"control": 0.5, "popular": 0.5}}

Assignment is a pure function of (experiment name, user id): stable across processes and restarts, needs
no storage, and a new experiment name reshuffles everyone. With no experiment everyone is in ``control``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CONTROL = "control"
# Variant names are stored on every event and metric row (max_length=32) and shown in charts.
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_EXPERIMENT_NAME_MAX = 64


@dataclass(frozen=True)
class Experiment:
    name: str
    # (variant, cumulative upper bound in (0, 1]) in the configured order; the last bound is 1.0.
    cuts: tuple[tuple[str, float], ...]

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.cuts)


def parse_experiment(raw: Mapping[str, Any] | None) -> Experiment | None:
    """Validate the setting; raise ImproperlyConfigured naming the problem. Empty or None: no experiment."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured("RECOMMENDATIONS_EXPERIMENT must be a JSON object")
    unknown = set(raw) - {"name", "variants"}
    if unknown:
        raise ImproperlyConfigured(f"RECOMMENDATIONS_EXPERIMENT has unknown keys: {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > _EXPERIMENT_NAME_MAX:
        raise ImproperlyConfigured(
            f"RECOMMENDATIONS_EXPERIMENT.name must be a non-empty string of at most {_EXPERIMENT_NAME_MAX} chars"
        )
    variants = raw.get("variants")
    if not isinstance(variants, Mapping) or not variants:
        raise ImproperlyConfigured(
            'RECOMMENDATIONS_EXPERIMENT.variants must be a non-empty object of weights, e.g. {"control": 0.5}'
        )
    weights: list[tuple[str, float]] = []
    for variant, weight in variants.items():
        if not isinstance(variant, str) or not _NAME_RE.match(variant):
            raise ImproperlyConfigured(
                f"RECOMMENDATIONS_EXPERIMENT variant {variant!r} must match {_NAME_RE.pattern} (lowercase, <= 32)"
            )
        # bool is an int subclass: `true` as a weight is a typo, not 1.
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
            raise ImproperlyConfigured(
                f"RECOMMENDATIONS_EXPERIMENT weight of {variant!r} must be a positive number, got {weight!r}"
            )
        weights.append((variant, float(weight)))
    total = sum(weight for _, weight in weights)
    cuts: list[tuple[str, float]] = []
    running = 0.0
    for variant, weight in weights:
        running += weight / total
        cuts.append((variant, running))
    # Float sums may end at 0.9999999: the last variant must own everything up to 1.
    cuts[-1] = (cuts[-1][0], 1.0)
    return Experiment(name=name, cuts=tuple(cuts))


def current_experiment() -> Experiment | None:
    return parse_experiment(getattr(settings, "RECOMMENDATIONS_EXPERIMENT", None))


def bucket(experiment_name: str, user_id: int) -> float:
    """Map (experiment, user) to a uniform number in [0, 1)."""
    digest = hashlib.sha256(f"{experiment_name}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def variant_for(experiment: Experiment | None, user_id: int) -> str:
    if experiment is None:
        return CONTROL
    point = bucket(experiment.name, user_id)
    for variant, upper in experiment.cuts:
        if point < upper:
            return variant
    return experiment.cuts[-1][0]


def assign_variant(user_id: int) -> str:
    """The variant of the configured experiment that ``user_id`` is in (``control`` without one)."""
    return variant_for(current_experiment(), user_id)
