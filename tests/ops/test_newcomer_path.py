"""The newcomer's first hour: `make demo`'s steps, its printed lines, the README's commands, an operator's hide.

The demo's steps (migrate, demo_setup with its events) run as subprocesses in a scratch folder, then the real
server serves it (``tests/ops/demo_support.py``); `make demo` itself, foreground serve included, is
``tests/ops/test_demo.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.ops.demo_support import Demo, blocks, printed_shell_lines, running_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("newcomer")) as started:
        yield started


def _interactions_of(demo: Demo, user_ids: list[int]) -> list[list[object]]:
    """The users' interactions in the demo's store, read by a command of its own (a plain shell)."""
    code = (
        "import json; from recommendations.models import Interaction; "
        f"print(json.dumps(sorted(Interaction.objects.filter(user_id__in={user_ids!r})"
        ".values_list('user_id', 'content_type', 'item__external_id', 'kind', 'value', 'timestamp'))))"
    )
    done = demo.manage("shell", "-c", code)
    assert done.returncode == 0, done.stderr
    rows: list[list[object]] = json.loads(done.stdout.strip().splitlines()[-1])  # after shell's own notice
    return rows


def test_the_try_it_block_comes_last_and_each_printed_line_answers_2xx(demo: Demo) -> None:
    lines = printed_shell_lines(demo.output)
    assert [line.split()[0] for line in lines] == ["TOKEN=$(curl", "curl", "curl", "curl"]
    assert demo.output.rstrip().splitlines()[-1].strip().startswith("passwords: admin")
    ran = demo.sh("\n".join(f"{line}; echo" for line in lines))
    assert ran.returncode == 0, ran.stderr
    assert len(ran.statuses) == 4
    assert all(200 <= code < 300 for code, _ in ran.statuses), ran.statuses
    movies, every_type, similar = demo.json_lines(ran.stdout)
    assert isinstance(movies, dict)
    assert movies["source"] == "model"
    assert len(movies["items"]) == 5
    assert isinstance(every_type, dict)
    assert every_type["errors"] == {}
    assert isinstance(similar, dict)
    assert len(similar["items"]) == 5


def test_the_readmes_commands_run_in_a_plain_shell_and_change_nothing_of_the_demo(demo: Demo) -> None:
    (readme,) = [b for b in blocks() if b.doc == "README.md" and "seed_recommendations" in b.body]
    before = _interactions_of(demo, [1, 2])  # admin and demo
    assert before  # demo_setup seeded them: the demo user has a history
    ran = demo.sh(readme.body)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "users 501-520" in ran.stdout  # after the demo's 500 seeded users
    assert "movies: 100 items (synthetic numbers 601-700)" in ran.stdout  # after the demo's 600 movies
    assert ran.stdout.count("succeeded") == 3, ran.stdout
    assert _interactions_of(demo, [1, 2]) == before


def test_every_command_has_help_in_a_plain_shell(demo: Demo) -> None:
    for name in ("seed_recommendations", "train_recommendations", "forget_user", "seed_demo_events", "hide_items"):
        shown = demo.manage(name, "--help")
        assert shown.returncode == 0, shown.stderr
        assert "default" in shown.stdout or name == "forget_user", shown.stdout


def test_a_hidden_item_disappears_from_the_running_servers_next_page(demo: Demo) -> None:
    headers = {"Authorization": f"Bearer {demo.token('demo')}"}
    url = f"{demo.url}/v1/recommendations/movies/?limit=5"
    first = httpx.get(url, headers=headers, timeout=30)
    assert first.status_code == 200
    top = first.json()["items"][0]["item_id"]
    assert httpx.get(url, headers=headers, timeout=30).headers["X-Cache"] == "hit"  # the page is cached
    (demo.root / "hide.txt").write_text(f"{top}\n")
    hidden = demo.manage("hide_items", "--type", "movies", "--file", "hide.txt", "--reason", "newcomer test")
    assert hidden.returncode == 0, hidden.stderr
    after = httpx.get(url, headers=headers, timeout=30)
    assert after.status_code == 200
    assert top not in [item["item_id"] for item in after.json()["items"]]
