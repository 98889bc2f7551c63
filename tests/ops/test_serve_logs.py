"""scripts/serve.sh's logs: an access-log switch (off by default) and one line per client error."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.support import LiveServer


def _served(tmp_path: Path, **env: str) -> str:
    server = LiveServer(tmp_path, MUSICBUD_DATA_DIR=str(tmp_path / "data"), **env)
    server.start()
    try:
        assert httpx.get(f"{server.url}/v1/recommendations/", timeout=10).status_code == 401
    finally:
        server.stop()
    return server.log_text()


def test_the_access_log_is_off_by_default_and_a_4xx_is_one_line_with_its_code(tmp_path: Path) -> None:
    log = _served(tmp_path)
    assert '"GET /healthz HTTP/1.1" 200' not in log
    assert log.count("/v1/recommendations/") == 1, log
    assert "401 not_authenticated: GET /v1/recommendations/" in log


def test_serve_access_log_true_adds_one_line_per_request(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, MUSICBUD_DATA_DIR=str(tmp_path / "data"), SERVE_ACCESS_LOG="true")
    server.start()
    try:
        assert httpx.get(f"{server.url}/v1/recommendations/", timeout=10).status_code == 401
        # granian writes a request's access line after its answer: wait for it (a stop may cut off the last one).
        deadline = time.monotonic() + 15
        while '"GET /v1/recommendations/ HTTP/1.1" 401' not in server.log_text():
            assert time.monotonic() < deadline, f"no access line for the request within 15 s:\n{server.log_text()}"
            time.sleep(0.1)
    finally:
        server.stop()
    assert '"GET /healthz HTTP/1.1" 200' in server.log_text()


def test_a_bad_access_log_value_stops_the_script_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="SERVE_ACCESS_LOG must be true or false"):
        _served(tmp_path, SERVE_ACCESS_LOG="yes please")
