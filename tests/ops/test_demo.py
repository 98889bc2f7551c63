"""`make demo` on embedded defaults brings up a server whose printed curl lines work."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def admin_page(base: str, demo_output: str, path: str) -> str:
    """A page of the demo's admin, logged in through its login form as the printed admin user."""
    found = re.search(r"passwords: admin '([^']+)'", demo_output)
    assert found, demo_output[-2000:]
    with httpx.Client(base_url=base, timeout=30) as http:
        login = http.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token
        http.post(
            "/admin/login/?next=/admin/",
            data={"username": "admin", "password": found.group(1), "csrfmiddlewaretoken": token.group(1)},
        )
        page = http.get(path)
        assert page.status_code == 200, page.text[:500]
        return page.text


def test_make_demo_serves_and_its_printed_curl_lines_work(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "NEO4J_"))}
    # The demo's SQLite file and models go to a temporary folder, not the developer's .data/.
    env |= {"MUSICBUD_DATA_DIR": str(tmp_path / "data"), "PORT": str(port)}
    log = tmp_path / "demo.log"
    env_file = tmp_path / "demo.env"  # not the developer's <repo>/.env
    with log.open("w") as out:
        demo = subprocess.Popen(
            ["make", "demo", f"PORT={port}", f"ENV_FILE={env_file}"], cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert demo.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the demo did not start in time:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        assert f"the server starts on http://127.0.0.1:{port}" in text
        assert "DEBUG=true" in env_file.read_text()
        # Quiet: training's details are in the log file; the "try it" block is the last thing printed.
        assert " INFO " not in text, text[-3000:]
        assert "[movies] fitting" in (tmp_path / "data" / "demo-setup.log").read_text()
        assert [line for line in text.splitlines() if line.strip()][-1].strip().startswith("passwords: admin")
        curls = [line.strip() for line in text.splitlines() if line.strip().startswith(("TOKEN=", "curl "))]
        assert len(curls) == 4, text
        outputs = subprocess.run(
            ["bash", "-c", "set -e\n" + "\n".join(f"{c}; echo" for c in curls)],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.split("\n")  # fmt: skip
        bodies = [json.loads(line) for line in outputs if line.strip()]
        movies, every_type, similar = bodies
        assert movies["source"] == "model"
        assert len(movies["items"]) == 5
        assert set(every_type) == {"movies", "manga", "anime", "errors"}
        assert every_type["errors"] == {}
        assert len(similar["items"]) == 5
        assert re.fullmatch(r"\d{8}T\d{6}\d*Z-[0-9a-f]+", movies["model_version"])
        assert re.search(r"demo events: \d+ new events of 30 accounts over 28 days", text), text[-2000:]
        dashboard = admin_page(f"http://127.0.0.1:{port}", text, "/admin/analytics/dailymetric/dashboard/?days=30")
        assert "No data in this period" not in dashboard  # every chart has points on the first run
        assert dashboard.count('class="series"') >= 4
        # The worker runs beside the server (its log in the data folder, so the terminal ends with "try it")...
        worker_log = tmp_path / "data" / "worker.log"
        while not worker_log.exists() or "worker started" not in worker_log.read_text():
            assert time.monotonic() < deadline, "the demo's worker did not start:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        # ...and Ctrl-C (SIGINT to the terminal's process group) stops both: no process of the demo is left.
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(timeout=60)
        stopped = time.monotonic() + 30
        while _group_alive(demo.pid):
            assert time.monotonic() < stopped, subprocess.run(
                ["ps", "-o", "pid,args", "-g", str(demo.pid)], capture_output=True, text=True, check=False
            ).stdout
            time.sleep(0.2)
        assert "worker stopped" in worker_log.read_text()
    finally:
        if _group_alive(demo.pid):
            os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(autouse=True)
def _skip_without_make() -> None:
    if subprocess.run(["which", "make"], capture_output=True, check=False).returncode != 0:
        pytest.skip("make is not installed")
