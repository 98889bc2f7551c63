"""manage.py hide_items: bulk hide and un-hide from a file of ids, all or nothing."""

from __future__ import annotations

import io
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.models import HiddenItem
from tests.api.conftest import API_SPEC, _fresh_cache, seeded

__all__ = ["_fresh_cache", "seeded"]
pytestmark = pytest.mark.usefixtures("seeded")

ANIME = [item.item_id for item in generate_content(API_SPEC, ContentType.ANIME).catalog]


def run(*args: str) -> str:
    out = StringIO()
    call_command("hide_items", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def hidden() -> list[str]:
    return sorted(HiddenItem.objects.filter(content_type="anime").values_list("item_id", flat=True))


def test_every_id_of_the_file_is_hidden_with_the_reason_and_unhide_restores_them(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# takedown request 42\n{ANIME[0]}\n\n{ANIME[1]}  # second\n{ANIME[0]}\n")
    assert (
        run("--type", "anime", "--file", str(ids), "--reason", "takedown 42")
        == "hid 2 anime items; 0 were hidden already"
    )
    assert hidden() == sorted(ANIME[:2])
    assert [(row.reason, row.hidden_by_id) for row in HiddenItem.objects.all()] == [("takedown 42", None)] * 2
    assert run("--type", "anime", "--file", str(ids)) == "hid 0 anime items; 2 were hidden already"

    ids.write_text(f"{ANIME[0]}\n{ANIME[2]}\n")
    assert run("--type", "anime", "--file", str(ids), "--unhide") == "un-hid 1 anime items; 1 were not hidden"
    assert hidden() == [ANIME[1]]


def test_ids_can_come_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{ANIME[3]}\n"))
    assert run("--type", "anime", "--file", "-") == "hid 1 anime items; 0 were hidden already"
    assert hidden() == [ANIME[3]]


def test_a_malformed_line_fails_naming_it_and_hides_nothing(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{ANIME[0]}\ntt0111161\n")
    with pytest.raises(CommandError, match=r"invalid_item_id: line 2: 'tt0111161' is not a MyAnimeList number"):
        run("--type", "anime", "--file", str(ids))
    assert hidden() == []


def test_ids_the_catalog_lacks_fail_naming_them_and_hide_nothing(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{ANIME[0]}\n424242\n")
    with pytest.raises(CommandError, match=r"item_not_found: 1 of the ids are not in the anime catalog. \['424242'\]"):
        run("--type", "anime", "--file", str(ids))
    assert hidden() == []


def test_a_missing_or_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        run("--type", "anime", "--file", str(tmp_path / "nope.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n")
    with pytest.raises(CommandError, match="holds no item id"):
        run("--type", "anime", "--file", str(empty))
