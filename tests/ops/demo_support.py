"""A `make demo` in a scratch folder, served by the real server, for tests that act like a newcomer.

``start_demo`` runs what ``make demo`` runs (migrate, demo_setup with four weeks of events) as subprocesses
with the embedded defaults, in a scratch folder that links the repo's files and has its own ``.env`` (the
demo's SQLite file and models are under it), then serves it with ``scripts/serve.sh`` (granian) on a free port
of 127.0.0.1, as ``make demo`` does. Shell snippets (the demo's printed lines, the docs' examples) run there in
a plain bash whose ``curl`` also reports each answer's status on stderr, so a test can fail on a non-2xx.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.reliability.support import REPO, LiveServer, process_env

# Not linked into the scratch folder: its own state.
_OWN = {".env", ".data", ".services", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_STATUS = re.compile(r"^CURL_STATUS (\d{3}) (\S+)$", re.M)
_CURL_SHIM = """#!/usr/bin/env bash
# curl as typed, and each answer's status on stderr (a test fails on a non-2xx the doc does not announce).
exec /usr/bin/curl --write-out '%{stderr}CURL_STATUS %{http_code} %{url_effective}\\n' "$@"
"""


@dataclass
class Snippet:
    """What a shell snippet did: exit code, output, and the status of every HTTP answer its curl calls got."""

    returncode: int
    stdout: str
    stderr: str
    statuses: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Demo:
    root: Path
    env: dict[str, str]  # a plain shell's: no service variables, the scratch .env named
    output: str  # what demo_setup printed
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    def passwords(self) -> dict[str, str]:
        found = re.search(r"passwords: admin '([^']+)', demo '([^']+)'", self.output)
        assert found, self.output[-2000:]
        return {"admin": found.group(1), "demo": found.group(2)}

    def token(self, username: str = "demo") -> str:
        body = {"username": username, "password": self.passwords()[username]}
        response = httpx.post(f"{self.url}/v1/auth/token/", json=body, timeout=30)
        assert response.status_code == 200, response.text
        access: str = response.json()["access"]
        return access

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [".venv/bin/python", "manage.py", *args], cwd=self.root, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def sh(self, script: str, *, timeout: float = 600, **env: str) -> Snippet:
        """``script`` in bash (stop at the first failing command), from the scratch folder."""
        shell_env = {**self.env, "PATH": f"{self.root / '.shim'}:{self.env['PATH']}", **env}
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script], cwd=self.root, env=shell_env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
        statuses = [(int(code), url) for code, url in _STATUS.findall(done.stderr)]
        return Snippet(done.returncode, done.stdout, done.stderr, statuses)

    def json_lines(self, text: str) -> list[object]:
        return [json.loads(line) for line in text.splitlines() if line.strip().startswith(("{", "["))]

    def stop(self) -> None:
        self.server.stop()


def scratch_checkout(root: Path) -> dict[str, str]:
    """A folder that links every file of the repo but has its own ``.env`` and data; its plain shell's env."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in REPO.iterdir():
        if entry.name not in _OWN:
            (root / entry.name).symlink_to(entry)
    shim = root / ".shim"
    shim.mkdir()
    (shim / "curl").write_text(_CURL_SHIM)
    (shim / "curl").chmod(0o755)
    env_file = root / ".env"
    # What `make demo` writes, plus where the data goes (the repo's .data is the developer's).
    env_file.write_text(
        f"DEBUG=true\nSECRET_KEY={secrets.token_urlsafe(48)}\nMUSICBUD_DATA_DIR={root / '.data'}\n"
        "RECOMMENDATIONS_SOURCE=database\n"
    )
    env = process_env(MUSICBUD_ENV_FILE=str(env_file), DEBUG=None, SECRET_KEY=None, LOG_LEVEL=None)
    # The settings' other inputs a developer's shell may have: none of them here.
    return {k: v for k, v in env.items() if not k.startswith(("RECOMMENDATIONS_", "MODEL_DIR", "MUSICBUD_DATA"))}


def start_demo(root: Path) -> Demo:
    """`make demo` in ``root``: its steps, then the server (stopped by ``Demo.stop``)."""
    env = scratch_checkout(root)
    steps = [
        ["migrate", "--no-input", "-v0"],
        ["demo_setup", "--base-url", "http://127.0.0.1:PORT"],
    ]
    server = LiveServer(root)
    base = server.url
    output = ""
    for step in steps:
        args = [arg.replace("http://127.0.0.1:PORT", base) for arg in step]
        done = subprocess.run(
            [".venv/bin/python", "manage.py", *args], cwd=root, env={**env, "EVENTS_MAX_AGE_DAYS": "28"},
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        output += done.stdout
    # The server as `make demo` runs it: the demo's settings from .env, one worker.
    server.env = {**env, "VENV_BIN": str(root / ".venv" / "bin")}
    server.start()
    return Demo(root=root, env=env, output=output, server=server)


def printed_shell_lines(output: str) -> list[str]:
    """The "try it" block's shell lines (the token, then the curl lines), as printed."""
    return [line.strip() for line in output.splitlines() if line.strip().startswith(("TOKEN=", "curl "))]


# --- the docs' example blocks ----------------------------------------------------------------------------

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
# On the line right before the block's fence.
_NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<why>.*?)\s*-->$")
_RUN_LANGS = {"bash": "shell", "sh": "shell", "shell": "shell", "console": "shell", "python": "python", "py": "python"}


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    kind: str  # "shell" or "python"
    body: str
    not_run: str | None  # the reason given in the doc

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in _BLOCK.finditer(text):
            kind = _RUN_LANGS.get(match.group("lang"))
            if kind is None:
                continue  # json, cron, a diagram: nothing to run
            line_before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            marker = _NOT_RUN.match(line_before)
            found.append(
                Block(
                    doc=str(doc.relative_to(REPO)), line=text[: match.start()].count("\n") + 1, kind=kind,
                    body=match.group("body"), not_run=marker.group("why") if marker else None,
                )
            )  # fmt: skip
    return found


def substituted(body: str, demo: Demo) -> str:
    return body.replace("http://127.0.0.1:8000", demo.url).replace("127.0.0.1:8000", demo.url.removeprefix("http://"))


@contextmanager
def running_demo(root: Path) -> Iterator[Demo]:
    """A demo started in ``root`` (``start_demo``), stopped when the block ends however it ends."""
    started = start_demo(root)
    try:
        yield started
    finally:
        started.stop()
