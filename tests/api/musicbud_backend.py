"""MusicBud's backend as this service sees it: its users table in a second database and its signed tokens.

The table is the one its migration creates (``app/migrations/0001_initial.py`` of musicbud/backend: table
``app_djangoparentuser``, of which we read ``id``, ``username``, ``is_active``); the tokens are what
simplejwt 5.3.1 issues with its settings (``SIMPLE_JWT``: HS256, ``user_id``, ``token_type``, ``exp``, ``iat``,
``jti``), minted here with PyJWT.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

SIGNING_KEY = "musicbud-backend-secret-key-for-the-tests"
# The backend's table, with the columns a real one has around the three we read.
TABLE = """
CREATE TABLE app_djangoparentuser (
    id INTEGER PRIMARY KEY, password VARCHAR(128) NOT NULL, last_login TIMESTAMP NULL,
    is_superuser BOOLEAN NOT NULL, username VARCHAR(150) NOT NULL UNIQUE, email VARCHAR(254) NOT NULL UNIQUE,
    is_active BOOLEAN NOT NULL, is_staff BOOLEAN NOT NULL, uid CHAR(32) NOT NULL UNIQUE
)
"""


def mint(
    user_id: object, *, key: str = SIGNING_KEY, token_type: str = "access", lifetime_s: int = 86_400, **extra: Any
) -> str:
    """A token as MusicBud's backend signs it (simplejwt's AccessToken / RefreshToken claims)."""
    now = int(time.time())
    claims = {
        "token_type": token_type,
        "exp": now + lifetime_s,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": user_id,
        **extra,
    }
    return jwt.encode(claims, key, algorithm="HS256")


@dataclass
class Backend:
    """The backend's users database (a SQLite file) and the settings that point this service at it."""

    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def add_user(self, user_id: int, username: str, *, active: bool = True) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute(
                "INSERT INTO app_djangoparentuser VALUES (?, '!', NULL, 0, ?, ?, ?, 0, ?)",
                (user_id, username, f"{username}@example.com", active, uuid.uuid4().hex),
            )
        db.close()

    def set_active(self, user_id: int, active: bool) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("UPDATE app_djangoparentuser SET is_active = ? WHERE id = ?", (active, user_id))
        db.close()

    def headers(self, user_id: object, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(user_id, **kwargs)}"}


@pytest.fixture
def musicbud_backend(settings: Any, tmp_path: Path) -> Backend:
    """MusicBud tokens on, with an empty users table (tests add the users they need)."""
    backend = Backend(tmp_path / "musicbud-backend.sqlite3")
    with sqlite3.connect(backend.path) as db:
        db.execute(TABLE)
    db.close()
    settings.MUSICBUD_JWT_SIGNING_KEY = SIGNING_KEY
    settings.MUSICBUD_USERS_DATABASE_URL = backend.url
    return backend
