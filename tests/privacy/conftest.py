"""The API tests' fixtures (real users and JWTs, seeded store, trained models), shared with the privacy tests."""

from __future__ import annotations

from tests.api.conftest import _fresh_cache, api, models, no_models, seeded, trained_model_dir
from tests.api.test_buds import accounts

__all__ = ["_fresh_cache", "accounts", "api", "models", "no_models", "seeded", "trained_model_dir"]
