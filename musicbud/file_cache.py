"""The embedded default cache: one SQLite file that the server's workers and every ``manage.py`` command share.

Without ``REDIS_URL`` the demo still runs several processes: granian's workers, and the operator's commands
(``hide_items``, ``forget_user``, ``clear_recommendation_cache``). A per-process local-memory cache reached none
of the others: a hide from the command line left the server's pages as they were, and two workers cached
every page twice. One file on the machine's disk reaches all of them, with the semantics ``musicbud.cache``
promises on Redis:

- a throttle counter is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement: it starts a new window
  when the old one has expired, in the same statement that counts, so nothing can expire between two steps;
- a read of several keys is one ``SELECT`` (a consistent snapshot: WAL mode), expired entries read as missing;
- a write of several keys (and of the generations that must only be created, ``unless_set``) is one transaction.

Why not Django's database or file cache: neither has an atomic increment (``incr`` is a read then a write), and
the database cache would put every request's counter write into the application's database and its lock. Here
the cache has a file of its own: its writes never wait on the application's transactions, and losing it loses
nothing but cached values (and the deny list, whose bound is then the token lifetime, as during a Redis outage).

Calls are synchronous and run inline on the event loop, like the local-memory cache did: a statement on a WAL
database takes tens of microseconds; a writer waits for another process's write lock (held for microseconds)
at most ``BUSY_TIMEOUT_S``, then the call fails as a cache outage (``sqlite3.OperationalError``), never a 500.
Expired entries are deleted by whichever process writes, at most once per ``PURGE_INTERVAL_S``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from musicbud.cache import Count, Counter

BUSY_TIMEOUT_S = 2.0
PURGE_INTERVAL_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL);
CREATE INDEX IF NOT EXISTS entries_expires ON entries (expires) WHERE expires IS NOT NULL;
"""

# A live entry: no expiry, or one still ahead (:now is the caller's clock, read once per call).
_LIVE = "(expires IS NULL OR expires > :now)"

_COUNT = """
INSERT INTO entries (key, value, expires) VALUES (:key, 1, :now + :ttl)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN entries.expires <= :now THEN 1 ELSE entries.value + 1 END,
    expires = CASE WHEN entries.expires <= :now THEN :now + :ttl ELSE entries.expires END
RETURNING value, expires
"""

# Set where missing or expired (Redis' SET NX: an expired key is a missing one).
_SET_UNLESS_SET = """
INSERT INTO entries (key, value, expires) VALUES (:key, :value, :expires)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires
WHERE entries.expires IS NOT NULL AND entries.expires <= :now
"""

_SET = "INSERT OR REPLACE INTO entries (key, value, expires) VALUES (:key, :value, :expires)"


class FileBackend:
    """``musicbud.cache``'s backend on one SQLite file; one connection per process (used under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.purged_at = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        # WAL: readers never wait for the writer; NORMAL: a commit is not synced to disk (a cache survives a
        # process crash either way; a power cut may lose its last writes, as Redis' default snapshotting would).
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.executescript(_SCHEMA)

    def read_sync(self, keys: Sequence[str], counter: Counter | None) -> tuple[list[bytes | None], Count | None]:
        now = time.time()
        with self.lock:
            count = None
            if counter is not None:
                value, expires = self.connection.execute(
                    _COUNT, {"key": counter.key, "now": now, "ttl": counter.ttl_s}
                ).fetchone()
                count = Count(value=int(value), expires_in_s=max(int(expires - now), 0))
            found: dict[str, bytes] = {}
            if keys:
                marks = ", ".join(f":k{n}" for n in range(len(keys)))
                params: dict[str, object] = {f"k{n}": key for n, key in enumerate(keys)}
                rows = self.connection.execute(
                    f"SELECT key, value FROM entries WHERE key IN ({marks}) AND {_LIVE}",
                    {**params, "now": now},
                )
                found = {key: value for key, value in rows if isinstance(value, bytes)}
        return [found.get(key) for key in keys], count

    def write_sync(
        self, values: Mapping[str, bytes], ttl_s: int | None, unless_set: Mapping[str, tuple[bytes, int | None]]
    ) -> None:
        now = time.time()
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                for key, (value, ttl) in unless_set.items():
                    expires = None if ttl is None else now + ttl
                    self.connection.execute(
                        _SET_UNLESS_SET, {"key": key, "value": value, "expires": expires, "now": now}
                    )
                expires = None if ttl_s is None else now + ttl_s
                self.connection.executemany(
                    _SET, [{"key": key, "value": value, "expires": expires} for key, value in values.items()]
                )
                if now - self.purged_at >= PURGE_INTERVAL_S:
                    self.purged_at = now
                    self.connection.execute("DELETE FROM entries WHERE expires <= :now", {"now": now})
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def delete_sync(self, keys: Sequence[str]) -> None:
        with self.lock:
            self.connection.executemany("DELETE FROM entries WHERE key = ?", [(key,) for key in keys])

    def clear_sync(self) -> None:
        with self.lock:
            self.connection.execute("DELETE FROM entries")

    async def read(self, keys: Sequence[str], counter: Counter | None) -> tuple[list[bytes | None], Count | None]:
        return self.read_sync(keys, counter)

    async def write(
        self, values: Mapping[str, bytes], ttl_s: int | None, unless_set: Mapping[str, tuple[bytes, int | None]]
    ) -> None:
        self.write_sync(values, ttl_s, unless_set)

    async def delete(self, keys: Sequence[str]) -> None:
        self.delete_sync(keys)


_lock = threading.Lock()
_backends: dict[tuple[int, Path], FileBackend] = {}


def file_backend(path: Path) -> FileBackend:
    """This process's backend on ``path`` (a SQLite connection must not cross a fork)."""
    key = (os.getpid(), path)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _backends[key] = FileBackend(path)
        return backend
