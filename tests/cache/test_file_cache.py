"""The embedded default cache (``musicbud.file_cache``): one SQLite file that every process on the machine shares."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from musicbud import cache, file_cache
from musicbud.cache import CacheUnavailable
from tests.reliability.support import manage, process_env


@pytest.fixture
def cache_file(settings: Any, tmp_path: Path) -> Path:
    settings.REDIS_URL = ""
    settings.EMBEDDED_CACHE = "file"
    settings.CACHE_FILE = tmp_path / "cache.sqlite3"
    return Path(settings.CACHE_FILE)


def other_process(code: str, cache_file: Path) -> str:
    """Run ``code`` in a manage.py shell of another process on the same cache file; its stdout."""
    env = process_env(REDIS_URL=None, CACHE_FILE=str(cache_file), EMBEDDED_CACHE="file", DEBUG="true")
    result = manage("shell", "-c", f"import asyncio\nfrom musicbud import cache\n{code}", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


async def test_what_one_process_writes_another_reads_and_deletes(cache_file: Path) -> None:
    await cache.write({"recs:page:a": b"body"}, ttl_s=60)
    seen = other_process("print(asyncio.run(cache.read(['recs:page:a']))[0])", cache_file)
    assert seen == "[b'body']"
    other_process("asyncio.run(cache.delete(['recs:page:a']))", cache_file)
    assert (await cache.read(["recs:page:a"]))[0] == [None]


async def test_two_processes_count_on_one_counter(cache_file: Path) -> None:
    counter = cache.Counter(key="throttle:user:7", ttl_s=60)
    await cache.read([], counter=counter)
    other_process("asyncio.run(cache.read([], counter=cache.Counter(key='throttle:user:7', ttl_s=60)))", cache_file)
    _, count = await cache.read([], counter=counter)
    assert count == cache.Count(value=3, expires_in_s=count.expires_in_s if count else -1)


async def test_an_expired_entry_reads_as_missing_and_unless_set_replaces_it(
    cache_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cache.write({}, ttl_s=None, unless_set={"gen": (b"old", 10)})
    await cache.write({}, ttl_s=None, unless_set={"gen": (b"other", 10)})
    assert (await cache.read(["gen"]))[0] == [b"old"]  # live: kept
    later = time.time() + 11
    monkeypatch.setattr(time, "time", lambda: later)
    assert (await cache.read(["gen"]))[0] == [None]
    await cache.write({}, ttl_s=None, unless_set={"gen": (b"new", None)})
    assert (await cache.read(["gen"]))[0] == [b"new"]


async def test_a_cache_file_locked_past_the_busy_timeout_is_a_cache_outage(
    cache_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_cache, "BUSY_TIMEOUT_S", 0.05)
    await cache.write({"k": b"v"}, ttl_s=60)  # creates the file (and this process's connection, with the timeout)
    holder = sqlite3.connect(cache_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with pytest.raises(CacheUnavailable):
            await cache.write({"k": b"w"}, ttl_s=60)
        assert (await cache.read(["k"]))[0] == [b"v"]  # readers never wait (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
