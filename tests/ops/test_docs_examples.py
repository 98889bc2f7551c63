"""Docs that cannot drift: every shell and Python example of README.md and docs/*.md runs against a live demo.

Each ```bash / ```sh / ```python block runs, in the order of the docs, against a `make demo`-like server (the
demo's steps in a scratch folder, then scripts/serve.sh: granian on 127.0.0.1) with the demo's ids and
passwords: ``http://127.0.0.1:8000`` is the live server's address, ``$TOKEN`` the demo user's access token
(``$ADMIN_PASSWORD``, ``$DEMO_PASSWORD`` their passwords). A block fails the test when a command fails or an
HTTP answer is not 2xx, unless the block itself announces that status (e.g. a comment ``# 404 ...``).

A block that cannot run here (installing services, Docker, long benchmarks, the soak) is preceded in its doc
by ``<!-- not run: why -->``; those are listed by ``test_the_blocks_not_run_say_why``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.ops.demo_support import Demo, blocks, running_demo, substituted

_ANNOUNCED = re.compile(r"\b([45]\d\d)\b")  # a status the block itself names, e.g. "# 404 ..."


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("docs-demo")) as started:
        yield started


def test_the_docs_have_runnable_examples_and_every_kind_is_found() -> None:
    runnable = [b for b in blocks() if b.not_run is None]
    assert {b.doc for b in runnable} >= {"README.md", "docs/api.md", "docs/operations.md"}
    assert len(runnable) >= 8


def test_the_blocks_not_run_say_why(capsys: pytest.CaptureFixture[str]) -> None:
    skipped = [b for b in blocks() if b.not_run is not None]
    with capsys.disabled():
        print("\nexample blocks not run:")
        for block in skipped:
            print(f"  {block.where}: {block.not_run}")
    assert all(len(block.not_run or "") >= 10 for block in skipped), "a not-run marker must say why"


def test_every_example_block_runs_against_the_live_demo(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    token = demo.token("demo")
    passwords = demo.passwords()
    failures = []
    for block in blocks():
        if block.not_run is not None:
            continue
        body = substituted(block.body, demo)
        if block.kind == "python":
            snippet = demo.sh('.venv/bin/python manage.py shell -c "$SNIPPET"', SNIPPET=body)
        else:
            snippet = demo.sh(body, TOKEN=token, ADMIN_PASSWORD=passwords["admin"], DEMO_PASSWORD=passwords["demo"])
        with capsys.disabled():
            print(f"\n  ran {block.where}: exit {snippet.returncode}, answers {[c for c, _ in snippet.statuses]}")
        announced = {int(code) for code in _ANNOUNCED.findall(block.body)}
        unexpected = [(code, url) for code, url in snippet.statuses if not 200 <= code < 300 and code not in announced]
        if snippet.returncode != 0 or unexpected:
            failures.append(
                f"{block.where} (exit {snippet.returncode}, answers {snippet.statuses}):\n{body}\n"
                f"stdout: {snippet.stdout[-1500:]}\nstderr: {snippet.stderr[-1500:]}"
            )
    assert not failures, "\n\n".join(failures)


def test_a_failing_example_is_caught(demo: Demo) -> None:
    """The check itself: a 404 the block does not announce, and a failing command, are failures."""
    token = demo.token("demo")
    missing = demo.sh(
        f"curl -s -H 'Authorization: Bearer {token}' {demo.url}/v1/recommendations/movies/tt899999999/similar/"
    )
    assert [code for code, _ in missing.statuses] == [404]
    assert demo.sh(".venv/bin/python manage.py hide_items --type movies --file no-such-file.txt").returncode != 0
