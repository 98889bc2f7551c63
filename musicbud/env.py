"""Typed readers for settings that come from environment variables.

Each helper raises ImproperlyConfigured on a value it cannot parse, so a typo in a deployment fails at
start-up instead of running with a silent default.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load_env_file(default: Path) -> Path | None:
    """Read ``KEY=value`` lines from ``MUSICBUD_ENV_FILE`` (else ``default``) into the environment.

    The real environment wins over the file, so a deployment (or a test) can override any line. A file
    named explicitly must exist; ``MUSICBUD_ENV_FILE=`` (empty) reads no file at all. Returns the file read.
    """
    named = os.environ.get("MUSICBUD_ENV_FILE")
    if named == "":
        return None
    path = Path(named) if named else default
    if not path.is_file():
        if named:
            raise ImproperlyConfigured(f"MUSICBUD_ENV_FILE={named!r} is not a file")
        return None
    load_dotenv(path, override=False)
    return path


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_required(name: str, why: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set: {why}")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and parsed < minimum:
        raise ImproperlyConfigured(f"{name}={parsed} must be >= {minimum}")
    return parsed


def env_list(name: str, default: Sequence[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [part.strip() for part in value.split(",") if part.strip()]


def env_choice(name: str, default: str, choices: Sequence[str]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def env_json_object(name: str) -> dict[str, Any]:
    value = os.environ.get(name)
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object")
    return parsed


_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


def env_throttle_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as ``600/minute``; DRF itself would only fail on the first request."""
    value = os.environ.get(name, default)
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate like 600/minute")
    return value


def env_per_type(name: str, default: str, choices: Sequence[str], types: Sequence[str]) -> dict[str, str]:
    """One choice for every type (``spark``) or a JSON object of them (``{"movies": "spark", "*": "local"}``).

    Returns the choice per key, ``"*"`` always present (the types without a key of their own).
    """
    value = os.environ.get(name, "").strip()
    if not value.startswith("{"):
        return {"*": env_choice(name, default, choices) if value else default}
    parsed = env_json_object(name)
    unknown = sorted(set(parsed) - {*types, "*"})
    if unknown:
        raise ImproperlyConfigured(f"{name} names an unknown type {unknown[0]!r}; one of {', '.join(types)} or *")
    for key, choice in parsed.items():
        if choice not in choices:
            raise ImproperlyConfigured(f"{name}[{key!r}]={choice!r} must be one of {', '.join(choices)}")
    return {"*": default, **parsed}


_MEMORY = re.compile(r"[1-9][0-9]*[kmgt]")


def env_memory(name: str, default: str) -> str:
    """A JVM memory size such as ``1g`` or ``512m`` (what Spark's memory settings take)."""
    value = os.environ.get(name, default).strip().lower()
    if not _MEMORY.fullmatch(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a memory size like 512m or 2g")
    return value
