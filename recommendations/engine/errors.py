"""Typed errors of the recommendation engine.

They belong to the project's one hierarchy (``musicbud.errors``, pure Python, so the engine stays free of
Django): each class carries a stable machine-readable ``code`` and the HTTP ``status_code`` the API's one
exception handler answers with. Callers branch on the code, never on the message.
"""

from __future__ import annotations

from musicbud.errors import MusicBudError


class EngineError(MusicBudError):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"
    status_code = 500
    default_message = "The recommendation engine failed."


class EngineUnavailable(EngineError):
    """The training backend (LightFM) cannot be imported in this environment."""

    code = "engine_unavailable"
    status_code = 503


class InvalidConfig(EngineError, ValueError):
    """An engine setting is unknown or out of range. Also a ValueError, as config parsing promises."""

    code = "invalid_config"
    status_code = 400


class InvalidData(EngineError, ValueError):
    """Input interactions (arrays or a ratings file) cannot be used for training or evaluation."""

    code = "invalid_data"
    status_code = 400


class CorruptModel(EngineError):
    """A saved model folder is incomplete or inconsistent; it is never served."""

    code = "model_corrupt"
    status_code = 503


class ModelNotFound(EngineError):
    """No model has been trained (saved) for the content type yet."""

    code = "model_missing"
    status_code = 503


class UnknownItem(EngineError):
    """The item is not in the model, so nothing can be said about it."""

    code = "unknown_item"
    status_code = 404
