"""Importers of real public datasets, read in their original formats.

MovieLens (``import_movielens``): ml-100k (``u.data`` + ``u.item``) or ml-1m (``ratings.dat`` +
``movies.dat``). Each rating becomes a RATED interaction with the 1-5 score and the original timestamp.
MovieLens has no IMDb ids in these releases, so each movie gets a synthetic one: ``tt9`` followed by the
MovieLens id zero-padded to 8 digits (movie 1 -> ``tt900000001``). Real IMDb ids are about 8 digits
long and far below tt900000000, so the two can never collide, and the MovieLens id stays readable.

MyAnimeList (``import_anime``): the Kaggle "Anime Recommendations Database" (``anime.csv`` +
``rating.csv``). A 1-10 rating becomes RATED with that score; -1 ("watched, not rated") becomes WATCHED
with no value. The data has no timestamps: every event is stored at KAGGLE_ANIME_TIMESTAMP, the day the
dataset was published, so re-importing changes nothing and popularity treats all events as equally old.

User ids are taken as they are in the files (plus an optional offset, to keep them apart from real
accounts or from another dataset).
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..domain import CatalogItem, ContentType, InteractionArrays, InteractionKind
from ..errors import InvalidDataset
from .loading import ContentDataset, write_dataset
from .store import InteractionStore
from .validation import image_url_or_none

MOVIELENS_IMDB_BASE = 900_000_000
KAGGLE_ANIME_TIMESTAMP = int(datetime(2016, 12, 21, tzinfo=UTC).timestamp())
# ml-100k's u.item carries 19 genre flags in this order (its u.genre file).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


@dataclass(frozen=True)
class ImportReport:
    content_type: ContentType
    items: int
    interactions: int
    skipped: int  # rows whose item is not in the item file, or whose rating is not on the scale


def movielens_item_id(movielens_id: int) -> str:
    return f"tt{MOVIELENS_IMDB_BASE + movielens_id}"


def _dataset_folder(path: Path) -> Path:
    """The folder of a dataset given as the folder or as any file in it."""
    if not path.exists():
        raise InvalidDataset(f"{path} does not exist.", path=str(path))
    return path if path.is_dir() else path.parent


def _require(folder: Path, *names: str) -> list[Path]:
    paths = [folder / name for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise InvalidDataset(f"{folder} has no {', '.join(missing)}.", path=str(folder))
    return paths


def _int_table(text: str, columns: int, source: Path) -> npt.NDArray[np.int64]:
    try:
        table = np.loadtxt(io.StringIO(text), dtype=np.int64, delimiter="\t", ndmin=2)
    except ValueError as exc:
        raise InvalidDataset(f"{source.name} is not a table of {columns} integer columns: {exc}") from exc
    if table.shape[1] != columns:
        raise InvalidDataset(f"{source.name} has {table.shape[1]} columns, expected {columns}.")
    return table


def _split_title(raw: str) -> tuple[str, int | None]:
    match = _TITLE_YEAR.match(raw.strip())
    if match is None:
        return raw.strip(), None
    return match["title"], int(match["year"])


def _movielens_items(folder: Path) -> tuple[dict[int, CatalogItem], npt.NDArray[np.int64], Path]:
    """Catalog keyed by MovieLens id, the (user, movie, rating, timestamp) table, and the ratings file."""
    if (folder / "u.data").is_file():
        ratings_path, items_path = _require(folder, "u.data", "u.item")
        ratings = _int_table(ratings_path.read_text(encoding="latin-1"), 4, ratings_path)
        catalog = {}
        for line in items_path.read_text(encoding="latin-1").splitlines():
            fields = line.split("|")
            if len(fields) != 5 + len(ML100K_GENRES):
                raise InvalidDataset(f"u.item line has {len(fields)} fields: {line[:80]!r}")
            title, year = _split_title(fields[1])
            genres = tuple(g for g, flag in zip(ML100K_GENRES, fields[5:], strict=True) if flag == "1")
            catalog[int(fields[0])] = CatalogItem(movielens_item_id(int(fields[0])), title, genres, year)
        return catalog, ratings, ratings_path
    ratings_path, items_path = _require(folder, "ratings.dat", "movies.dat")
    ratings = _int_table(ratings_path.read_text(encoding="latin-1").replace("::", "\t"), 4, ratings_path)
    catalog = {}
    for line in items_path.read_text(encoding="latin-1").splitlines():
        fields = line.split("::")
        if len(fields) != 3:
            raise InvalidDataset(f"movies.dat line has {len(fields)} fields: {line[:80]!r}")
        title, year = _split_title(fields[1])
        genres = tuple(g for g in fields[2].split("|") if g and g != "(no genres listed)")
        catalog[int(fields[0])] = CatalogItem(movielens_item_id(int(fields[0])), title, genres, year)
    return catalog, ratings, ratings_path


def read_movielens(path: Path, *, user_offset: int = 0) -> tuple[ContentDataset, int]:
    """The dataset at ``path`` (a folder, or any file in it) and the number of rows skipped."""
    folder = _dataset_folder(path)
    catalog, ratings, _ = _movielens_items(folder)
    users, movies, scores, timestamps = ratings.T
    known = np.isin(movies, np.fromiter(catalog, dtype=np.int64)) & (scores >= 1) & (scores <= 5)
    arrays = InteractionArrays(
        user_ids=users[known] + user_offset,
        item_ids=np.char.add("tt", (MOVIELENS_IMDB_BASE + movies[known]).astype(np.str_)),
        kinds=np.full(int(known.sum()), InteractionKind.RATED, dtype=np.int8),
        values=scores[known].astype(np.float32),
        timestamps=timestamps[known],
    )
    return ContentDataset(ContentType.MOVIES, list(catalog.values()), arrays), int((~known).sum())


def read_anime(path: Path, *, user_offset: int = 0) -> tuple[ContentDataset, int]:
    folder = _dataset_folder(path)
    anime_path, rating_path = _require(folder, "anime.csv", "rating.csv")
    catalog = []
    with anime_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"anime_id", "name", "genre"} <= set(reader.fieldnames or ()):
            raise InvalidDataset("anime.csv needs the columns anime_id, name, genre.")
        # The 2016 Kaggle file has no pictures; a file with MAL's picture URLs in an ``image_url`` column (as
        # later MyAnimeList exports have) fills them (anything but an http(s) URL is no picture).
        pictures = "image_url" in (reader.fieldnames or ())
        for row in reader:
            genres = tuple(g.strip() for g in row["genre"].split(",") if g.strip())
            # Kaggle kept MyAnimeList's HTML entities in names (Gintama&#039;).
            image_url = image_url_or_none(row["image_url"]) if pictures else None
            catalog.append(CatalogItem(str(int(row["anime_id"])), html.unescape(row["name"]), genres, None, image_url))
    header = rating_path.open(encoding="utf-8").readline().strip()
    if header != "user_id,anime_id,rating":
        raise InvalidDataset(f"rating.csv must start with the header user_id,anime_id,rating, not {header!r}.")
    text = rating_path.read_text(encoding="utf-8").split("\n", 1)[1].replace(",", "\t")
    users, anime, scores = _int_table(text, 3, rating_path).T
    known = np.isin(anime, np.array([int(item.item_id) for item in catalog], dtype=np.int64))
    known &= (scores == -1) | ((scores >= 1) & (scores <= 10))
    watched = scores[known] == -1
    arrays = InteractionArrays(
        user_ids=users[known] + user_offset,
        item_ids=anime[known].astype(np.str_),
        kinds=np.where(watched, InteractionKind.WATCHED, InteractionKind.RATED).astype(np.int8),
        values=np.where(watched, np.nan, scores[known]).astype(np.float32),
        timestamps=np.full(int(known.sum()), KAGGLE_ANIME_TIMESTAMP, dtype=np.int64),
    )
    return ContentDataset(ContentType.ANIME, catalog, arrays), int((~known).sum())


def _import(store: InteractionStore, dataset: ContentDataset, skipped: int, *, progress: bool) -> ImportReport:
    store.ensure_schema()
    written = write_dataset(store, dataset, progress=progress)
    return ImportReport(dataset.content_type, len(dataset.catalog), written, skipped)


def import_movielens(
    store: InteractionStore, path: Path, *, user_offset: int = 0, progress: bool = True
) -> ImportReport:
    dataset, skipped = read_movielens(path, user_offset=user_offset)
    return _import(store, dataset, skipped, progress=progress)


def import_anime(store: InteractionStore, path: Path, *, user_offset: int = 0, progress: bool = True) -> ImportReport:
    dataset, skipped = read_anime(path, user_offset=user_offset)
    return _import(store, dataset, skipped, progress=progress)
