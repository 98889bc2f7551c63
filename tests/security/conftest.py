"""The API tests' fixtures (real users and JWTs, seeded store, trained models), shared with the security tests."""

from __future__ import annotations

from tests.api.conftest import _fresh_cache, api, models, no_models, seeded, staff_api, trained_model_dir

__all__ = ["_fresh_cache", "api", "models", "no_models", "seeded", "staff_api", "trained_model_dir"]
