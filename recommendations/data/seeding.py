"""Synthetic interaction data that looks like the real thing, and writing it into a store.

Model, per content type (all numpy, vectorized over blocks of users):
- items belong to 1-3 genres and have a power-law (Zipf) popularity and a release time;
- users have a latent taste, a Dirichlet mix over genres, and a lognormal number of interactions;
- a user picks a genre from their taste, then an item of that genre by popularity (and one pick in ten
  by popularity alone), all picks of all users drawn at once by inverse-CDF sampling;
- the kind follows the affinity: liked/top list for close matches, disliked for poor ones, ratings that
  track the affinity, watched/watch list in between;
- timestamps fall between the later of the item's release and the user's arrival, and the end of the
  data, over ``months`` months, so popularity windows and trending have something to find.

The same spec always generates the same data (one seeded generator per content type), so seeding twice
upserts the same rows: no duplicates, nothing changes.

Seeding next to data that exists (``manage.py seed_recommendations``) places the spec after it
(``after_existing``): new users after every user id in use (the store's, the Django accounts', the forgotten
ones'), new items after the type's synthetic items, so no account, no existing item's genres and no forgotten
user's interactions are touched. Writing at the spec's own ids over what is there is ``--replace``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from ..domain import CatalogItem, ContentType, InteractionArrays, InteractionKind
from .loading import ContentDataset, write_dataset
from .store import InteractionStore

# A fixed end, not "now": the same seed must give the same timestamps tomorrow.
SEED_END = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
# Synthetic ids sit in ranges real data does not reach: IMDb ids are at about tt3xxxxxxx, MovieLens
# imports use tt9xxxxxxxx, MyAnimeList ids are below 100,000.
SYNTHETIC_IMDB_BASE = 800_000_000
SYNTHETIC_MAL_BASE = 800_000_000
_DAY = 86_400

GENRES: dict[ContentType, tuple[str, ...]] = {
    ContentType.MOVIES: (
        "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ),
    ContentType.ANIME: (
        "Action", "Adventure", "Comedy", "Drama", "Fantasy", "Horror", "Mecha", "Mystery", "Psychological",
        "Romance", "School", "Sci-Fi", "Seinen", "Shoujo", "Shounen", "Slice of Life", "Sports", "Supernatural",
    ),
    ContentType.MANGA: (
        "Action", "Adventure", "Comedy", "Drama", "Fantasy", "Historical", "Horror", "Josei", "Mystery",
        "Psychological", "Romance", "School", "Seinen", "Shoujo", "Shounen", "Slice of Life", "Sports", "Tragedy",
    ),
}  # fmt: skip
_ADJECTIVES = ("Silent", "Crimson", "Last", "Hidden", "Golden", "Broken", "Endless", "Distant", "Wild", "Hollow")
_NOUNS = ("River", "Empire", "Garden", "Signal", "Horizon", "Promise", "Machine", "Winter", "Voyage", "Kingdom")
_TYPE_STREAM = {ContentType.MOVIES: 1, ContentType.MANGA: 2, ContentType.ANIME: 3}


@dataclass(frozen=True)
class SeedSpec:
    users: int
    items: dict[ContentType, int]
    seed: int = 0
    interactions_per_user: int = 50  # mean, per content type
    first_user_id: int = 1
    months: int = 12
    end_timestamp: int = SEED_END
    # Number of the first synthetic item per type (1 when absent): ids ``first .. first + n - 1``.
    first_item: dict[ContentType, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.users < 0 or any(n < 0 for n in self.items.values()):
            raise ValueError("Counts must not be negative.")
        if self.interactions_per_user < 1 or self.months < 1 or self.first_user_id < 1:
            raise ValueError("interactions_per_user, months and first_user_id must be at least 1.")
        if any(n < 1 for n in self.first_item.values()):
            raise ValueError("first_item numbers must be at least 1.")


@dataclass
class SeedReport:
    interactions: dict[ContentType, int] = field(default_factory=dict)
    items: dict[ContentType, int] = field(default_factory=dict)
    seconds: float = 0.0


def synthetic_ids(ct: ContentType, n: int, *, first: int = 1) -> npt.NDArray[np.str_]:
    numbers = np.arange(first, first + n, dtype=np.int64)
    if ct is ContentType.MOVIES:
        return np.char.add("tt", (SYNTHETIC_IMDB_BASE + numbers).astype(np.str_))
    return (SYNTHETIC_MAL_BASE + numbers).astype(np.str_)


def _item_genres(rng: np.random.Generator, n_items: int, n_genres: int) -> npt.NDArray[np.float32]:
    """n_items x n_genres membership (1-3 genres per item, common genres more often), rows summing to 1."""
    prevalence = np.log(rng.dirichlet(np.full(n_genres, 2.0)))
    keys = prevalence + rng.gumbel(size=(n_items, n_genres))
    order = np.argsort(-keys, axis=1).argsort(axis=1)
    member = order < rng.integers(1, 4, size=n_items)[:, None]
    shares: npt.NDArray[np.float32] = (member / member.sum(axis=1, keepdims=True)).astype(np.float32)
    return shares


def _catalog(
    ct: ContentType, ids: npt.NDArray[np.str_], genres: npt.NDArray[np.float32], rng: np.random.Generator
) -> list[CatalogItem]:
    names = GENRES[ct]
    years = rng.integers(1950, 2025, size=len(ids))
    member_item, member_genre = np.nonzero(genres > 0)
    genre_lists: list[list[str]] = [[] for _ in range(len(ids))]
    for i, g in zip(member_item.tolist(), member_genre.tolist(), strict=True):
        genre_lists[i].append(names[g])
    items = []
    for i, item_id in enumerate(ids.tolist()):
        title = f"{_ADJECTIVES[i % 10]} {_NOUNS[(i // 10) % 10]} {i // 100 + 1}"
        item_genres = tuple(genre_lists[i])
        year = int(years[i]) if ct is ContentType.MOVIES else None
        # Every other anime and manga has a picture, as MAL's entries mostly do (example.org: a reserved domain).
        image_url = (
            f"https://images.example.org/{ct.value}/{item_id}.jpg"
            if ct is not ContentType.MOVIES and i % 2 == 0
            else None
        )
        items.append(CatalogItem(item_id=item_id, title=title, genres=item_genres, year=year, image_url=image_url))
    return items


def _kinds_and_values(
    ct: ContentType, fit: npt.NDArray[np.float32], rng: np.random.Generator
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Kind and value of each picked pair from how well it fits the user (0 poor .. 1 best)."""
    n = int(fit.shape[0])
    draw = rng.random(n, dtype=np.float32)
    noisy = np.clip(fit + rng.normal(0.0, 0.15, size=n).astype(np.float32), 0.0, 1.0)
    disliked = draw < 0.3 * (1.0 - fit) ** 2
    kinds = np.empty(n, dtype=np.int8)
    values = np.full(n, np.nan, dtype=np.float32)
    if ct is ContentType.MOVIES:
        rest = rng.random(n, dtype=np.float32)
        kinds[:] = InteractionKind.WATCHED
        kinds[rest < 0.55] = InteractionKind.WATCHLIST
        kinds[rest < 0.40] = InteractionKind.RATED
        kinds[rest < 0.35 * fit] = InteractionKind.LIKED
        rated = kinds == InteractionKind.RATED
        values[rated] = 1 + np.round(4 * noisy[rated])  # 1-5, like MovieLens
    else:
        rest = rng.random(n, dtype=np.float32)
        kinds[:] = InteractionKind.RATED
        if ct is ContentType.ANIME:
            kinds[rest > 0.85] = InteractionKind.WATCHED
        kinds[rest < 0.2 * fit] = InteractionKind.TOP_LIST
        rated = kinds == InteractionKind.RATED
        values[rated] = 1 + np.round(9 * noisy[rated])  # 1-10, like MyAnimeList
    kinds[disliked] = InteractionKind.DISLIKED
    values[disliked] = np.nan
    return kinds, values


def _top_list_ranks(arrays: InteractionArrays, fit: npt.NDArray[np.float32]) -> None:
    """Rank each user's top-list entries 1..n, best fit first (in place)."""
    rows = np.flatnonzero(arrays.kinds == InteractionKind.TOP_LIST)
    if rows.size == 0:
        return
    order = rows[np.lexsort((-fit[rows], arrays.user_ids[rows]))]
    users = arrays.user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, users.size]))
    arrays.values[order] = (np.arange(users.size) - run_start + 1).astype(np.float32)


def _inverse_cdf(
    weights: npt.NDArray[np.float64], groups: npt.NDArray[np.int64], group_of_draw: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:  # fmt: skip
    """For each draw, an index into ``weights`` within the draw's group, proportionally to the weights.

    ``groups`` (sorted) says which group each weight belongs to. Offsetting each group's normalized
    cumulative weights by its group number makes one global ``searchsorted`` answer all draws at once.
    """
    totals = np.bincount(groups, weights=weights)
    cumulative = np.cumsum(weights) - np.repeat(np.cumsum(totals) - totals, np.bincount(groups))
    keys = cumulative / totals[groups] + groups
    found = np.searchsorted(keys, group_of_draw + rng.random(group_of_draw.shape[0]))
    clipped: npt.NDArray[np.int64] = np.minimum(found, keys.shape[0] - 1).astype(np.int64)
    return clipped


def _picks(
    rng: np.random.Generator, taste: npt.NDArray[np.float64], genres: npt.NDArray[np.float32],
    popularity: npt.NDArray[np.float64], counts: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # fmt: skip
    """(user index, item index) of every picked pair: a genre from the user's taste, then an item of
    that genre by popularity; one pick in ten by popularity alone. Duplicates are dropped and each
    user keeps their first ``counts[u]`` distinct picks (1.5x oversampling covers the dropped ones)."""
    n_users, n_genres = taste.shape
    n_items = genres.shape[0]
    draws = np.ceil(counts * 1.5).astype(np.int64) + 5
    users = np.repeat(np.arange(n_users), draws)
    # Genre of each draw, from the user's taste.
    genre_index = _inverse_cdf(taste.ravel(), np.repeat(np.arange(n_users), n_genres), users, rng)
    genre = genre_index - users * n_genres
    # Item of that genre, by popularity.
    member_genre, member_item = np.nonzero(genres.T > 0)
    items = member_item[_inverse_cdf(popularity[member_item], member_genre, genre, rng)]
    explore = rng.random(users.shape[0]) < 0.1
    items[explore] = _inverse_cdf(popularity, np.zeros(n_items, np.int64), np.zeros(int(explore.sum()), np.int64), rng)
    # First occurrence of each (user, item), in draw order; then the first counts[u] of each user.
    _, first = np.unique(users * n_items + items, return_index=True)
    first.sort()
    users, items = users[first], items[first]
    starts = np.searchsorted(users, np.arange(n_users))
    position = np.arange(users.shape[0]) - starts[users]
    keep = position < counts[users]
    return users[keep], items[keep]


def generate_content(spec: SeedSpec, ct: ContentType) -> ContentDataset:
    n_items = spec.items.get(ct, 0)
    rng = np.random.default_rng([spec.seed, _TYPE_STREAM[ct]])
    ids = synthetic_ids(ct, n_items, first=spec.first_item.get(ct, 1))
    genres = _item_genres(rng, n_items, len(GENRES[ct])) if n_items else np.empty((0, len(GENRES[ct])), np.float32)
    catalog = _catalog(ct, ids, genres, rng)
    if n_items == 0 or spec.users == 0:
        return ContentDataset(ct, catalog, InteractionArrays.empty())

    # Zipf: the r-th most popular item has weight 1/r.
    popularity = (1.0 / (rng.permutation(n_items) + 1.0)).astype(np.float64)
    taste = rng.dirichlet(np.full(len(GENRES[ct]), 0.3), size=spec.users)
    # A small catalog may leave a genre without items: nobody can pick from it.
    taste *= genres.sum(axis=0) > 0
    taste /= taste.sum(axis=1, keepdims=True)
    mean = spec.interactions_per_user
    counts = np.clip(np.round(mean * rng.lognormal(-0.125, 0.5, spec.users)), 1, min(n_items, 10 * mean)).astype(
        np.int64
    )

    span = spec.months * 30 * _DAY
    window_start = spec.end_timestamp - span
    released = spec.end_timestamp - (2 * span * rng.random(n_items)).astype(np.int64)
    arrived = spec.end_timestamp - (span * rng.random(spec.users) ** 0.7).astype(np.int64)

    user_index, item_index = _picks(rng, taste, genres, popularity, counts)
    # How well each pick fits its user: 1 for an item entirely of the user's favourite genre. Items have
    # at most 3 genres, so 3 gathers instead of a full (pairs x genres) product.
    top_genres = np.argsort(-genres, axis=1)[:, :3]
    top_shares = np.take_along_axis(genres, top_genres, axis=1)
    fit = np.zeros(user_index.shape[0])
    for j in range(3):
        fit += taste[user_index, top_genres[item_index, j]] * top_shares[item_index, j]
    fit = (fit / taste.max(axis=1)[user_index]).astype(np.float32)
    kinds, values = _kinds_and_values(ct, fit, rng)
    start = np.maximum(np.maximum(released[item_index], arrived[user_index]), window_start)
    timestamps = start + ((spec.end_timestamp - start) * rng.random(fit.shape[0]) ** 0.8).astype(np.int64)
    arrays = InteractionArrays(
        user_ids=(spec.first_user_id + user_index).astype(np.int64),
        item_ids=ids[item_index],
        kinds=kinds,
        values=values,
        timestamps=timestamps,
    )
    _top_list_ranks(arrays, fit)
    return ContentDataset(ct, catalog, arrays)


def synthetic_number(ct: ContentType, item_id: str) -> int | None:
    """The number of a synthetic item id (``synthetic_ids``), None for any other id."""
    digits = item_id[2:] if ct is ContentType.MOVIES and item_id.startswith("tt") else item_id
    if not digits.isdigit():
        return None
    number = int(digits) - (SYNTHETIC_IMDB_BASE if ct is ContentType.MOVIES else SYNTHETIC_MAL_BASE)
    return number if number >= 1 else None


def next_item_numbers(store: InteractionStore, types: Iterable[ContentType]) -> dict[ContentType, int]:
    """Per type, the number after the highest synthetic item in the store's catalog (1 for none)."""
    numbers: dict[ContentType, int] = {}
    for ct in types:
        found = [n for item in store.catalog(ct) if (n := synthetic_number(ct, item.item_id)) is not None]
        numbers[ct] = max(found, default=0) + 1
    return numbers


def next_user_id(store: InteractionStore) -> int:
    """The id after every user id in use: the store's, the Django accounts' and the forgotten users'."""
    from django.contrib.auth import get_user_model
    from django.db.models import Max

    from ..models import ForgottenUser

    in_use = [
        store.max_user_id(),
        get_user_model().objects.aggregate(top=Max("pk"))["top"],
        ForgottenUser.objects.aggregate(top=Max("user_id"))["top"],
    ]
    return max((int(n) for n in in_use if n is not None), default=0) + 1


def after_existing(store: InteractionStore, spec: SeedSpec) -> SeedSpec:
    """The spec moved after what exists: new users after every id in use, new items after the synthetic ones."""
    types = [ct for ct, n in spec.items.items() if n]
    return replace(spec, first_user_id=next_user_id(store), first_item=next_item_numbers(store, types))


def seed_store(store: InteractionStore, spec: SeedSpec, *, progress: bool = True) -> SeedReport:
    """Generate the spec's data and upsert it into the store (the constraints are created first)."""
    started = time.perf_counter()
    store.ensure_schema()
    report = SeedReport()
    for ct in ContentType:
        if not spec.items.get(ct):
            continue
        content = generate_content(spec, ct)
        report.items[ct] = len(content.catalog)
        report.interactions[ct] = write_dataset(store, content, progress=progress)
    report.seconds = time.perf_counter() - started
    return report
