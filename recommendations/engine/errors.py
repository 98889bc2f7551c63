"""Typed errors of the recommendation engine.

Each class carries a stable machine-readable ``code``: callers (the API, the commands) branch on the
code, never on the message. The engine stays free of Django, so the base class is a plain Exception;
``status_code`` tells the project's one exception handler (musicbud/errors.py) how to answer over HTTP.
"""

from __future__ import annotations

from typing import ClassVar


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code: ClassVar[str] = "engine_error"
    status_code: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


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
