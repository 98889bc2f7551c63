"""The importers read MovieLens and the Kaggle MyAnimeList data in their original formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommendations.data.importers import (
    KAGGLE_ANIME_TIMESTAMP,
    import_anime,
    import_movielens,
    read_anime,
    read_movielens,
)
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.orm_store import OrmInteractionStore
from recommendations.domain import CatalogItem, ContentType, InteractionKind
from recommendations.errors import InvalidDataset
from recommendations.models import Interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def ml1m(tmp_path: Path) -> Path:
    """A few lines of ml-1m, byte for byte in its format (``::`` separators, latin-1)."""
    (tmp_path / "movies.dat").write_bytes(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n"
        "3::Am\xe9lie (2001)::Comedy|Romance\n".encode("latin-1")
    )
    (tmp_path / "ratings.dat").write_text("1::1::5::978300760\n1::3::3::978302109\n2::2::4::978301968\n")
    return tmp_path


def test_ml1m_ratings_become_rated_interactions_with_synthetic_imdb_ids(
    ml1m: Path, orm_store: OrmInteractionStore
) -> None:
    report = import_movielens(orm_store, ml1m, progress=False)
    assert (report.items, report.interactions, report.skipped) == (3, 3, 0)
    arrays = orm_store.all_interactions("movies")
    assert arrays.item_ids.tolist() == ["tt900000001", "tt900000002", "tt900000003"]
    assert arrays.user_ids.tolist() == [1, 2, 1]
    assert arrays.values.tolist() == [5.0, 4.0, 3.0]
    assert arrays.timestamps.tolist() == [978300760, 978301968, 978302109]
    assert set(arrays.kinds.tolist()) == {InteractionKind.RATED}
    amelie = orm_store.catalog_items("movies", ["tt900000003"])["tt900000003"]
    assert (amelie.title, amelie.year, amelie.genres) == ("Amélie", 2001, ("Comedy", "Romance"))


def test_importing_twice_adds_nothing_and_an_offset_moves_the_users(ml1m: Path, orm_store: OrmInteractionStore) -> None:
    import_movielens(orm_store, ml1m, progress=False)
    import_movielens(orm_store, ml1m, progress=False)
    assert Interaction.objects.count() == 3
    import_movielens(orm_store, ml1m / "ratings.dat", user_offset=1000, progress=False)
    assert sorted(set(orm_store.all_interactions("movies").user_ids.tolist())) == [1, 2, 1001, 1002]


def test_a_folder_without_the_files_or_with_garbage_is_an_invalid_dataset(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataset):
        read_movielens(tmp_path)
    (tmp_path / "u.data").write_text("1\t2\tthree\t4\n")
    (tmp_path / "u.item").write_text("")
    with pytest.raises(InvalidDataset):
        read_movielens(tmp_path)
    with pytest.raises(CommandError, match="invalid_dataset"):
        call_command("import_anime", str(tmp_path), verbosity=0)
    with pytest.raises(CommandError, match=r"invalid_dataset: .*/missing does not exist"):
        call_command("import_movielens", str(tmp_path / "missing"), verbosity=0)


def _shared(shared_data: Path, folder: str, marker: str) -> Path:
    path = shared_data / folder
    if not (path / marker).is_file():
        pytest.skip(f"{folder} is not in the shared data")
    return path


def _head(source: Path, target: Path, names: list[str], lines: dict[str, int]) -> Path:
    """A copy of a dataset folder (in the test's temporary directory) with some files cut short."""
    target.mkdir()
    for name in names:
        data = (source / name).read_bytes()
        if name in lines:
            data = b"".join(data.splitlines(keepends=True)[: lines[name]])
        (target / name).write_bytes(data)
    return target


def test_ml100k_is_read_completely(shared_data: Path) -> None:
    dataset, skipped = read_movielens(_shared(shared_data, "ml-100k", "u.data"))
    arrays = dataset.interactions
    assert (len(arrays), skipped, len(dataset.catalog)) == (100_000, 0, 1682)
    assert np.unique(arrays.user_ids).size == 943
    assert np.bincount(arrays.values.astype(np.int64)).tolist() == [0, 6110, 11370, 27145, 34174, 21201]
    assert (arrays.timestamps.min(), arrays.timestamps.max()) == (874724710, 893286638)
    assert dataset.catalog[0] == CatalogItem("tt900000001", "Toy Story", ("Animation", "Children's", "Comedy"), 1995)


def test_ml100k_imports_through_the_command(shared_data: Path, tmp_path: Path, orm_store: OrmInteractionStore) -> None:
    # 3,000 of the 100,000 ratings: the whole file takes too long for the suite on a busy machine.
    folder = _head(_shared(shared_data, "ml-100k", "u.data"), tmp_path / "ml", ["u.data", "u.item"], {"u.data": 3000})
    call_command("import_movielens", str(folder), verbosity=0)
    call_command("import_movielens", str(folder), verbosity=0)
    arrays = orm_store.all_interactions(ContentType.MOVIES)
    assert len(arrays) == Interaction.objects.count() == 3000
    assert len(orm_store.catalog("movies")) == 1682
    first = orm_store.user_history("movies", 196)
    assert "tt900000242" in first.item_ids.tolist()  # u.data's first line: 196 242 3 881250949
    assert first.timestamps[first.item_ids == "tt900000242"].tolist() == [881250949]


def test_the_anime_data_is_read_completely(shared_data: Path) -> None:
    dataset, skipped = read_anime(_shared(shared_data, "anime-small", "rating.csv"))
    arrays = dataset.interactions
    assert (len(arrays), skipped, len(dataset.catalog)) == (92_022, 0, 12_294)
    assert int((arrays.kinds == InteractionKind.WATCHED).sum()) == 17_669
    assert np.isnan(arrays.values[arrays.kinds == InteractionKind.WATCHED]).all()
    assert int((arrays.kinds == InteractionKind.RATED).sum()) == 74_353
    assert set(arrays.timestamps.tolist()) == {KAGGLE_ANIME_TIMESTAMP}


def test_the_anime_data_imports_into_the_graph(
    shared_data: Path, tmp_path: Path, graph_store: Neo4jInteractionStore
) -> None:
    source = _shared(shared_data, "anime-small", "rating.csv")
    folder = _head(source, tmp_path / "anime", ["anime.csv", "rating.csv"], {"rating.csv": 3001})
    report = import_anime(graph_store, folder, progress=False)
    assert (report.items, report.interactions, report.skipped) == (12_294, 3000, 0)
    arrays = graph_store.all_interactions(ContentType.ANIME)
    assert len(arrays) == 3000
    assert set(arrays.kinds.tolist()) == {InteractionKind.WATCHED, InteractionKind.RATED}
    history = graph_store.user_history("anime", 72562)  # rating.csv's first row: 72562,20,10
    assert history.values[history.item_ids == "20"].tolist() == [10.0]
    # Kaggle's HTML entities are decoded; MAL ids come back as the decimal strings they went in as.
    assert graph_store.catalog_items("anime", ["9969"])["9969"].title == "Gintama'"


def test_an_anime_file_with_picture_urls_fills_them_and_one_without_leaves_none(tmp_path: Path) -> None:
    (tmp_path / "anime.csv").write_text(
        "anime_id,name,genre,type,episodes,rating,members,image_url\n"
        '5114,Fullmetal Alchemist: Brotherhood,"Action, Drama",TV,64,9.26,793665,'
        "https://cdn.myanimelist.net/images/anime/1223/96541.jpg\n"
        "9253,Steins;Gate,Sci-Fi,TV,24,9.17,673572,\n",
        encoding="utf-8",
    )
    (tmp_path / "rating.csv").write_text("user_id,anime_id,rating\n1,5114,10\n", encoding="utf-8")
    dataset, _ = read_anime(tmp_path)
    pictures = {item.item_id: item.image_url for item in dataset.catalog}
    assert pictures == {"5114": "https://cdn.myanimelist.net/images/anime/1223/96541.jpg", "9253": None}


def test_the_kaggle_anime_file_has_no_pictures(shared_data: Path) -> None:
    dataset, _ = read_anime(shared_data / "anime-small")
    assert all(item.image_url is None for item in dataset.catalog)
