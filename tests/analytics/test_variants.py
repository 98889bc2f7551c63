"""A/B variant assignment: stable per user, spread by weight, validated settings."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from recommendations.experiments import assign_variant, bucket, parse_experiment, variant_for

EXPERIMENT = {"name": "model-vs-popular", "variants": {"control": 0.7, "popular": 0.2, "fresh": 0.1}}
FRESH_USER = 61


def test_everyone_is_in_control_without_an_experiment() -> None:
    with override_settings(RECOMMENDATIONS_EXPERIMENT=None):
        assert {assign_variant(user_id) for user_id in range(1, 200)} == {"control"}


def test_everyone_is_in_control_when_the_setting_is_absent(settings: Any) -> None:
    del settings.RECOMMENDATIONS_EXPERIMENT

    assert assign_variant(42) == "control"


def test_a_users_variant_is_stable_across_calls_and_parses() -> None:
    with override_settings(RECOMMENDATIONS_EXPERIMENT=EXPERIMENT):
        first = [assign_variant(user_id) for user_id in range(1, 1000)]
        second = [assign_variant(user_id) for user_id in range(1, 1000)]

    assert first == second


def test_the_assignment_is_a_fixed_function_of_experiment_and_user() -> None:
    # Pinned: a change to the hashing would silently move running experiments' users to other arms.
    assert bucket("model-vs-popular", 1) == int("a41099850caad376", 16) / 2**64
    experiment = parse_experiment(EXPERIMENT)
    assigned = [variant_for(experiment, user_id) for user_id in (1, 4, 7, FRESH_USER)]
    assert assigned == ["control", "popular", "popular", "fresh"]


def test_10k_users_spread_by_the_weights() -> None:
    experiment = parse_experiment(EXPERIMENT)

    counts = Counter(variant_for(experiment, user_id) for user_id in range(1, 10_001))

    # 3 standard deviations of a binomial(10k, 0.1) is about 90 users: 150 leaves room, yet catches a bug.
    assert abs(counts["control"] - 7_000) < 150
    assert abs(counts["popular"] - 2_000) < 150
    assert abs(counts["fresh"] - 1_000) < 150


def test_another_experiment_name_reshuffles_users() -> None:
    a = parse_experiment({"name": "exp-a", "variants": {"control": 1, "popular": 1}})
    b = parse_experiment({"name": "exp-b", "variants": {"control": 1, "popular": 1}})

    same = sum(variant_for(a, user_id) == variant_for(b, user_id) for user_id in range(1, 2_001))

    assert 850 < same < 1_150  # independent halves agree about half of the time


def test_weights_need_not_sum_to_one() -> None:
    experiment = parse_experiment({"name": "x", "variants": {"control": 3, "popular": 1}})

    assert experiment is not None
    assert experiment.cuts == (("control", 0.75), ("popular", 1.0))


def test_buckets_are_in_the_unit_interval() -> None:
    assert all(0 <= bucket("x", user_id) < 1 for user_id in range(1, 5_000))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"variants": {"control": 1}}, id="no-name"),
        pytest.param({"name": "", "variants": {"control": 1}}, id="empty-name"),
        pytest.param({"name": "x"}, id="no-variants"),
        pytest.param({"name": "x", "variants": {}}, id="empty-variants"),
        pytest.param({"name": "x", "variants": ["control"]}, id="variants-not-an-object"),
        pytest.param({"name": "x", "variants": {"control": 0}}, id="zero-weight"),
        pytest.param({"name": "x", "variants": {"control": -1, "b": 2}}, id="negative-weight"),
        pytest.param({"name": "x", "variants": {"control": "half"}}, id="string-weight"),
        pytest.param({"name": "x", "variants": {"control": True}}, id="boolean-weight"),
        pytest.param({"name": "x", "variants": {"Control Group": 1}}, id="bad-variant-name"),
        pytest.param({"name": "x", "variants": {"v" * 33: 1}}, id="variant-name-too-long"),
        pytest.param({"name": "x", "variants": {"control": 1}, "weights": {}}, id="unknown-key"),
        pytest.param(["control"], id="not-an-object"),
    ],
)
def test_a_bad_experiment_setting_is_improperly_configured(raw: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="RECOMMENDATIONS_EXPERIMENT"):
        parse_experiment(raw)


def test_a_bad_setting_fails_on_assignment_too() -> None:
    with (
        override_settings(RECOMMENDATIONS_EXPERIMENT={"name": "x", "variants": {"control": -1}}),
        pytest.raises(ImproperlyConfigured),
    ):
        assign_variant(1)
