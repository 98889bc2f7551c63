"""Graph profiles: how one Neo4j graph spells interactions, declared once and read by the Neo4j backend.

A profile names the labels, the key property of each item label and how its values become our item ids,
the relationship types and the interaction kind each one is, how a graph user becomes one of our integer
user ids, and where a timestamp comes from. Two ship (``NEO4J_GRAPH_PROFILE``):

- ``native``, the schema this service designed: ``(:User {user_id})-[:LIKED|… {ts, value}]->(:Movie {imdb_id})``;
  the user id is ours, every relationship carries its time and value.
- ``musicbud``, the graph MusicBud's backend writes with its neomodel models (app/db_models/ of its public
  repository): a person ``(:ParentUser {uid, username, email})`` links to one account node per service,
  ``-[:CONNECTED_TO_IMDB]->(:ImdbUser {user_id: str, username, email})`` and
  ``-[:CONNECTED_TO_MAL]->(:MalUser:User {uid, user_id: int, name, …})``, and the accounts hold the edges:
  ``-[:LIKES|WATCHED|RATED|WANTS_TO_WATCH]->(:ImdbMovie {imdb_id, title, year, genres, …})`` and
  ``-[:TOP_ANIME]->(:Anime {uid, anime_id: int, title, …})`` / ``-[:TOP_MANGA]->(:Manga {uid, manga_id: int, title})``.
  Its relationships carry no properties: no time, no score, no rank.

Every name here is checked against ``IDENTIFIER`` when the profile is built and is spliced into query text
in backticks; values never are (they are parameters).
"""

from __future__ import annotations

import ast
import enum
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..domain import ContentType, InteractionKind
from ..errors import InvalidItemId
from .validation import ALLOWED_KINDS, VALUED_KINDS, validate_item_id

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Our ids for MusicBud people who have no Django account: 2**62 and up, a range Django's auto-increment ids
# never reach, so the two can never collide (see ``person_user_id``).
PERSON_ID_BASE = 2**62
# Longest genres text parsed as neomodel's str(list): anything longer is taken as one genre.
_MAX_GENRES_TEXT = 4_000


class KeyCodec(enum.Enum):
    """How an item label's key property holds our item id."""

    IMDB = "imdb"  # the IMDb id as we write it: "tt0111161"
    # Cinemagoer's movieID, what MusicBud's ImdbService stores: the IMDb id without "tt" ("0111161").
    IMDB_DIGITS = "imdb_digits"
    MAL = "mal"  # a MyAnimeList id as an integer

    def to_key(self, item_id: str) -> int | str:
        if self is KeyCodec.MAL:
            return int(item_id)
        return item_id[2:] if self is KeyCodec.IMDB_DIGITS else item_id

    def from_key(self, key: object) -> str | None:
        """Our id of a graph key, or None when the key cannot be one (it is left out of every read)."""
        if self is KeyCodec.MAL:
            return str(key) if isinstance(key, int) and not isinstance(key, bool) and key > 0 else None
        if not isinstance(key, str):
            return None
        return key if self is KeyCodec.IMDB or key.startswith("tt") else "tt" + key

    def valid(self, ct: ContentType, key: object) -> str | None:
        item_id = self.from_key(key)
        if item_id is None:
            return None
        try:
            return validate_item_id(ct, item_id)
        except InvalidItemId:
            return None


class GenreFormat(enum.Enum):
    LIST = "list"  # a list of strings
    # neomodel's StringProperty str()s what it is given: MusicBud's ImdbMovie.genres holds "['Drama', 'War']".
    NEOMODEL_STRING = "neomodel_string"
    NONE = "none"  # the label has no genres property (MusicBud's Anime and Manga)


def decode_genres(value: object) -> tuple[str, ...]:
    """Genres as stored in either format: a list, neomodel's ``str(list)``, a single string, or nothing."""
    if isinstance(value, list):
        return tuple(str(genre) for genre in value)
    if not isinstance(value, str) or not value:
        return ()
    if value.startswith("[") and len(value) <= _MAX_GENRES_TEXT:
        try:
            parsed = ast.literal_eval(value)  # literals only: safe on untrusted text
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return (value,)
        if isinstance(parsed, list):
            return tuple(str(genre) for genre in parsed)
    return (value,)


def encode_genres(fmt: GenreFormat, genres: tuple[str, ...]) -> list[str] | str | None:
    if fmt is GenreFormat.LIST:
        return list(genres)
    # What neomodel writes for StringProperty(multiple=True) given a list: the list's str().
    return str(list(genres)) if fmt is GenreFormat.NEOMODEL_STRING else None


@dataclass(frozen=True)
class ItemNode:
    label: str
    key: str
    codec: KeyCodec
    genres: GenreFormat = GenreFormat.LIST
    year: bool = False
    # Properties MusicBud's model gives a new node (neomodel writes defaults on save), and whether it has
    # a UniqueIdProperty ``uid`` (uuid4 hex).
    defaults: Mapping[str, Any] = field(default_factory=dict)
    uid: bool = False
    # Where the item's picture is: None, a property ``image_url`` on the item (native); or (relationship type,
    # label) of picture nodes with ``large`` and ``medium`` URLs (MusicBud's ``-[:HAS_PICTURE]->(:MainPicture)``).
    picture: tuple[str, str] | None = None


class AccountService(enum.Enum):
    IMDB = "imdb"
    MAL = "mal"


@dataclass(frozen=True)
class Account:
    """A person's account node of one service, which holds the person's edges of that service."""

    label: str
    link: str  # person -[link]-> account
    key: str  # the property that identifies an account in extraction (unique)
    service: AccountService
    extra_labels: tuple[str, ...] = ()  # neomodel gives a node every non-abstract class label of its MRO


@dataclass(frozen=True)
class ContentMapping:
    item: ItemNode
    reads: Mapping[str, InteractionKind]  # relationship type -> the kind it is
    # kind -> the relationship type it is written as; a kind absent here is kept in our own database.
    writes: Mapping[InteractionKind, str]
    account: Account | None = None

    def rel_types(self) -> list[str]:
        return sorted(self.reads)


@dataclass(frozen=True)
class GraphProfile:
    name: str
    user_label: str
    content: Mapping[ContentType, ContentMapping]
    # True: relationships carry ``ts`` and ``value`` (native). False: no properties; times are first-seen
    # times this service records (recommendations/data/sightings.py), values are ``unknown_values``.
    timestamped: bool
    # What a kind that needs a value reads as from a relationship that has none. MusicBud's graph keeps no
    # rank and no score, so it cannot say which entry is stronger: every top-list entry is rank 1 and every
    # rating the top of the scale, i.e. each one strong positive, all alike (the engine weighs rank 1 as a
    # like plus the top-list bonus, and a rating at the top of the data's scale as a like).
    unknown_values: Mapping[InteractionKind, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.identifiers():
            if not IDENTIFIER.fullmatch(name):
                raise ValueError(f"Graph profile {self.name!r}: {name!r} is not a plain identifier.")
        for ct, mapping in self.content.items():
            kinds = set(mapping.reads.values()) | set(mapping.writes)
            if not self.timestamped and not VALUED_KINDS & set(mapping.reads.values()) <= set(self.unknown_values):
                raise ValueError(f"Graph profile {self.name!r}: a valued {ct.value} kind has no unknown value.")
            if not kinds <= ALLOWED_KINDS[ct]:
                extra = sorted(kinds - ALLOWED_KINDS[ct])
                raise ValueError(f"Graph profile {self.name!r}: {ct.value} have no {extra}.")
            if not set(mapping.writes.values()) <= set(mapping.reads):
                raise ValueError(f"Graph profile {self.name!r}: a written {ct.value} relationship is never read.")
        if self.accounts != all(m.account is not None for m in self.content.values()):
            raise ValueError(f"Graph profile {self.name!r}: every content type has an account, or none has.")

    def identifiers(self) -> list[str]:
        names = [self.user_label]
        for mapping in self.content.values():
            item = mapping.item
            names += [item.label, item.key, *item.defaults, *mapping.reads, *(item.picture or ())]
            if mapping.account is not None:
                account = mapping.account
                names += [account.label, account.link, account.key, *account.extra_labels]
        return names

    @property
    def accounts(self) -> bool:
        """Whether users reach items through per-service account nodes (MusicBud's person -> account)."""
        return any(m.account is not None for m in self.content.values())

    def stored_form(
        self, ct: ContentType, kind: InteractionKind, value: float | None
    ) -> tuple[InteractionKind, float | None]:
        """What an interaction recorded through this profile reads back as (kind and value)."""
        rel = self.content[ct].writes.get(kind)
        if rel is None:
            return kind, value  # kept in our database, exactly
        read = self.content[ct].reads[rel]
        return read, value if self.timestamped else self.unknown_values.get(read)


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping))


# The native relationship type of each kind.
NATIVE_REL_TYPES: Mapping[InteractionKind, str] = {
    InteractionKind.LIKED: "LIKED",
    InteractionKind.WATCHED: "WATCHED",
    InteractionKind.WATCHLIST: "WATCHLISTED",
    InteractionKind.DISLIKED: "DISLIKED",
    InteractionKind.TOP_LIST: "IN_TOP_LIST",
    InteractionKind.RATED: "RATED",
}
_NATIVE_ITEMS = {
    ContentType.MOVIES: ItemNode("Movie", "imdb_id", KeyCodec.IMDB, year=True),
    ContentType.MANGA: ItemNode("Manga", "mal_id", KeyCodec.MAL, year=True),
    ContentType.ANIME: ItemNode("Anime", "mal_id", KeyCodec.MAL, year=True),
}


def _native_content(ct: ContentType) -> ContentMapping:
    kinds = sorted(ALLOWED_KINDS[ct])
    return ContentMapping(
        item=_NATIVE_ITEMS[ct],
        reads=_frozen({NATIVE_REL_TYPES[kind]: kind for kind in kinds}),
        writes=_frozen({kind: NATIVE_REL_TYPES[kind] for kind in kinds}),
    )


NATIVE = GraphProfile(
    name="native", user_label="User", content=_frozen({ct: _native_content(ct) for ct in ContentType}), timestamped=True
)

_IMDB_ACCOUNT = Account("ImdbUser", "CONNECTED_TO_IMDB", "user_id", AccountService.IMDB)
# MalUser subclasses MusicBud's User (not abstract), so its nodes carry both labels. Its user_id (the MAL
# id) is optional in the model, so accounts are told apart by their uid.
_MAL_ACCOUNT = Account("MalUser", "CONNECTED_TO_MAL", "uid", AccountService.MAL, extra_labels=("User",))

# MusicBud's MalService connects each anime and manga to a MainPicture {medium, large} (MAL's main_picture).
_MAIN_PICTURE = ("HAS_PICTURE", "MainPicture")

MUSICBUD = GraphProfile(
    name="musicbud",
    user_label="ParentUser",
    content=_frozen(
        {
            ContentType.MOVIES: ContentMapping(
                item=ItemNode("ImdbMovie", "imdb_id", KeyCodec.IMDB_DIGITS, GenreFormat.NEOMODEL_STRING, year=True),
                reads=_frozen(
                    {
                        "LIKES": InteractionKind.LIKED,
                        "WATCHED": InteractionKind.WATCHED,
                        "RATED": InteractionKind.RATED,
                        "WANTS_TO_WATCH": InteractionKind.WATCHLIST,
                    }
                ),
                writes=_frozen(
                    {
                        InteractionKind.LIKED: "LIKES",
                        InteractionKind.WATCHED: "WATCHED",
                        InteractionKind.RATED: "RATED",
                        InteractionKind.WATCHLIST: "WANTS_TO_WATCH",
                    }
                ),
                account=_IMDB_ACCOUNT,
            ),
            # A MAL "top" edge is an entry of the user's list: a like given in our app is written as one.
            ContentType.MANGA: ContentMapping(
                item=ItemNode("Manga", "manga_id", KeyCodec.MAL, GenreFormat.NONE, uid=True, picture=_MAIN_PICTURE),
                reads=_frozen({"TOP_MANGA": InteractionKind.TOP_LIST}),
                writes=_frozen({InteractionKind.TOP_LIST: "TOP_MANGA", InteractionKind.LIKED: "TOP_MANGA"}),
                account=_MAL_ACCOUNT,
            ),
            ContentType.ANIME: ContentMapping(
                item=ItemNode(
                    "Anime",
                    "anime_id",
                    KeyCodec.MAL,
                    GenreFormat.NONE,
                    defaults=_frozen({"score": 0, "num_watched_episodes": 0, "is_rewatching": False}),
                    uid=True,
                    picture=_MAIN_PICTURE,
                ),
                reads=_frozen({"TOP_ANIME": InteractionKind.TOP_LIST}),
                writes=_frozen({InteractionKind.TOP_LIST: "TOP_ANIME", InteractionKind.LIKED: "TOP_ANIME"}),
                account=_MAL_ACCOUNT,
            ),
        }
    ),
    timestamped=False,
    unknown_values=_frozen({InteractionKind.TOP_LIST: 1.0, InteractionKind.RATED: 10.0}),
)

PROFILES: Mapping[str, GraphProfile] = _frozen({NATIVE.name: NATIVE, MUSICBUD.name: MUSICBUD})


def get_profile(name: str) -> GraphProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"Unknown graph profile {name!r} (known: {', '.join(PROFILES)}).") from None


def person_user_id(person_key: str) -> int:
    """Our user id of a MusicBud person who has no Django account: stable, from the person's uid.

    The top 62 bits of SHA-256(uid), offset by 2**62: the same on every machine and run, without a table.
    Two people share one only if their hashes collide (about n**2 / 2**63 for n people: 1e-7 at a million).
    """
    digest = hashlib.sha256(person_key.encode()).digest()
    return PERSON_ID_BASE + (int.from_bytes(digest[:8], "big") >> 2)


def unknown_values(profile: GraphProfile, kinds: npt.NDArray[np.int8]) -> npt.NDArray[np.float32]:
    """The values of edges without properties: ``profile.unknown_values`` per kind, NaN for the others."""
    values = np.full(kinds.shape[0], np.nan, dtype=np.float32)
    for kind, value in profile.unknown_values.items():
        values[kinds == kind] = value
    return values
