from __future__ import annotations

import os

import pytest

from recommendations.engine.config import EngineConfig
from recommendations.engine.errors import InvalidConfig


def test_defaults_weigh_likes_over_watches_over_watchlist() -> None:
    config = EngineConfig()
    assert config.weight_liked > config.weight_watched > config.weight_watchlist > 0


def test_default_thread_count_is_the_cpu_count() -> None:
    assert EngineConfig().num_threads == (os.cpu_count() or 1)


def test_overrides_replace_defaults() -> None:
    config = EngineConfig.from_overrides({"epochs": 5, "learning_rate": 1})
    assert config.epochs == 5
    assert config.learning_rate == 1.0


def test_missing_overrides_mean_defaults() -> None:
    assert EngineConfig.from_overrides(None) == EngineConfig() == EngineConfig.from_overrides({})


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"epoch": 5}, "epoch"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": "10"}, "epochs"),
        ({"no_components": 8.5}, "no_components"),
        ({"learning_rate": True}, "learning_rate"),
        ({"weight_liked": -1}, "weight_liked"),
        ({"weight_watched": float("nan")}, "weight_watched"),
        ({"use_item_features": "yes"}, "use_item_features"),
        ({"loss": "hinge"}, "loss"),
        ({"low_rating_fraction": 2}, "low_rating_fraction"),
    ],
)
def test_a_bad_override_is_a_value_error_naming_the_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=key) as raised:
        EngineConfig.from_overrides(overrides)
    assert isinstance(raised.value, InvalidConfig)
    assert raised.value.code == "invalid_config"


def test_config_round_trips_through_its_dict() -> None:
    config = EngineConfig.from_overrides({"epochs": 7, "use_item_features": True})
    assert EngineConfig.from_overrides(config.to_dict()) == config
