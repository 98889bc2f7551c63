"""The throttle counter of ``musicbud.cache.read``: atomic on every embedded backend, whatever the clock does.

(On Redis it is one Lua script, atomic by construction: tests/api/test_throttle.py counts through it.)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from musicbud import cache
from musicbud.cache import Counter
from tests.conftest import clear_shared_cache


class TickingClock:
    """``time.time`` that moves ``tick`` seconds each time it is read: every step of an operation sees a later time,
    so a counter can expire between two steps of one increment, deterministically."""

    def __init__(self, tick: float) -> None:
        self.now = 1_000_000.0
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


@pytest.fixture(params=["memory", "file"])
def embedded(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> str:
    """Each embedded backend in turn (no REDIS_URL): the local-memory cache, the shared cache file."""
    settings.REDIS_URL = ""
    settings.EMBEDDED_CACHE = request.param
    settings.CACHE_FILE = tmp_path / "cache.sqlite3"
    clear_shared_cache()
    return str(request.param)


@pytest.mark.usefixtures("embedded")
async def test_a_counter_expiring_between_two_steps_of_an_increment_starts_a_new_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = TickingClock(0.0)
    monkeypatch.setattr(time, "time", clock)
    # For each moment just before a window's end, one key: a first count opens a 10 s window with the clock still,
    # then the clock moves 0.1 s per reading from ``before`` seconds before the window ends, so the window ends
    # in the middle of the next count, at each of its steps in turn.
    for n, before in enumerate([0.05 * step for step in range(1, 20)]):
        counter = Counter(key=f"throttle:user:{n}", ttl_s=10)
        clock.tick = 0.0
        _, first = await cache.read([], counter=counter)
        assert first is not None
        assert first.value == 1
        clock.now += 10 - before
        clock.tick = 0.1
        _, count = await cache.read([], counter=counter)
        assert count is not None
        assert count.value in (1, 2)  # the old window's second count, or a new window's first
        assert 0 <= count.expires_in_s <= 10


@pytest.mark.usefixtures("embedded")
async def test_a_counter_counts_every_read_of_its_window() -> None:
    counter = Counter(key="throttle:user:3", ttl_s=60)
    values = [(await cache.read([], counter=counter))[1] for _ in range(5)]
    assert [count.value for count in values if count is not None] == [1, 2, 3, 4, 5]
    assert all(count is not None and 58 <= count.expires_in_s <= 60 for count in values)
