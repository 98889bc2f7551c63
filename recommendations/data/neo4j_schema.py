"""The graph's vocabulary (labels, relationship types, key properties), its schema and its errors.

Labels and relationship types cannot be query parameters in Cypher, so they are spliced into query
text; they only ever come from the fixed tables below (and a validated label prefix), never from input.
Every value is a parameter.

A label prefix gives a separate set of labels in the same database (``TestUser``, ``TestMovie``…): the
test suite and the benchmark use one so they can wipe their own data in a Neo4j shared with others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import neo4j
from django.conf import settings
from neo4j import exceptions as neo4j_errors

from musicbud.errors import GraphUnavailable

from ..domain import ContentType, InteractionKind

REL_TYPES: Mapping[InteractionKind, str] = {
    InteractionKind.LIKED: "LIKED",
    InteractionKind.WATCHED: "WATCHED",
    InteractionKind.WATCHLIST: "WATCHLISTED",
    InteractionKind.DISLIKED: "DISLIKED",
    InteractionKind.TOP_LIST: "IN_TOP_LIST",
    InteractionKind.RATED: "RATED",
}
ITEM_LABELS: Mapping[ContentType, str] = {
    ContentType.MOVIES: "Movie",
    ContentType.MANGA: "Manga",
    ContentType.ANIME: "Anime",
}
# Movies are keyed by IMDb id (a string); manga and anime by MyAnimeList id, stored as an integer.
ITEM_KEYS: Mapping[ContentType, str] = {
    ContentType.MOVIES: "imdb_id",
    ContentType.MANGA: "mal_id",
    ContentType.ANIME: "mal_id",
}
_PREFIX = re.compile(r"(?:[A-Z][A-Za-z0-9]{0,30})?")
# Server-side codes that mean "gave up waiting", i.e. the graph did not answer in time.
_TIMEOUT_CODES = frozenset(
    {
        "Neo.ClientError.Transaction.TransactionTimedOut",
        "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
        "Neo.TransientError.Transaction.LockClientStopped",
    }
)


def rel_types(kinds: Iterable[InteractionKind]) -> str:
    """``LIKED|WATCHED|…`` for a relationship pattern."""
    return "|".join(REL_TYPES[kind] for kind in kinds)


def kind_case(variable: str) -> str:
    """A Cypher expression giving the InteractionKind code of relationship ``variable``."""
    whens = " ".join(f"WHEN '{rel}' THEN {int(kind)}" for kind, rel in REL_TYPES.items())
    return f"CASE type({variable}) {whens} END"


@dataclass(frozen=True)
class GraphLabels:
    prefix: str = ""

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"Label prefix {self.prefix!r} must be empty or like 'Test1'.")

    @property
    def user(self) -> str:
        return f"{self.prefix}User"

    def item(self, ct: ContentType) -> str:
        return f"{self.prefix}{ITEM_LABELS[ct]}"

    def constraints(self) -> dict[str, tuple[str, str]]:
        """Constraint name -> (label, key property) of every uniqueness constraint."""
        lower = self.prefix.lower()
        named = {f"{lower}user_user_id_unique": (self.user, "user_id")}
        for ct in ContentType:
            named[f"{lower}{ITEM_LABELS[ct].lower()}_{ITEM_KEYS[ct]}_unique"] = (self.item(ct), ITEM_KEYS[ct])
        return named


def query(text: str) -> neo4j.Query:
    """A query with the configured server-side timeout, so a stuck query fails instead of hanging."""
    return neo4j.Query(text, timeout=float(settings.NEO4J_QUERY_TIMEOUT))


@contextmanager
def graph_errors() -> Iterator[None]:
    """Turn the driver's connection, authentication and timeout failures into GraphUnavailable."""
    try:
        yield
    except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired) as exc:
        raise GraphUnavailable("The interaction graph (Neo4j) cannot be reached.") from exc
    except neo4j_errors.ConnectionAcquisitionTimeoutError as exc:
        raise GraphUnavailable("No connection to the interaction graph (Neo4j) became free in time.") from exc
    except neo4j_errors.AuthError as exc:
        raise GraphUnavailable("The interaction graph (Neo4j) rejected our credentials.") from exc
    except (neo4j_errors.DatabaseUnavailable, neo4j_errors.NotALeader) as exc:
        raise GraphUnavailable("The interaction graph (Neo4j) database is not available.") from exc
    except neo4j_errors.Neo4jError as exc:
        if exc.code in _TIMEOUT_CODES:
            raise GraphUnavailable("The interaction graph (Neo4j) did not answer in time.") from exc
        raise


def ensure_schema(driver: neo4j.Driver, labels: GraphLabels) -> None:
    """Uniqueness constraints (each also the index of its key) and the relationship timestamp indexes."""
    statements = [
        f"CREATE CONSTRAINT `{name}` IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.`{key}` IS UNIQUE"
        for name, (label, key) in labels.constraints().items()
    ]
    # Popular/trending count events in a time window: a range index per relationship type. Shared by
    # every label prefix (relationship types have none).
    statements += [
        f"CREATE INDEX `interaction_{rel.lower()}_ts` IF NOT EXISTS FOR ()-[r:`{rel}`]-() ON (r.ts)"
        for rel in REL_TYPES.values()
    ]
    with graph_errors():
        for statement in statements:
            driver.execute_query(statement)
        driver.execute_query("CALL db.awaitIndexes(300)")


def schema_names(driver: neo4j.Driver) -> set[str]:
    """Names of the constraints and indexes that exist (for checks and tests)."""
    with graph_errors():
        constraints = driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN name").records
        indexes = driver.execute_query("SHOW INDEXES YIELD name RETURN name").records
    return {record["name"] for record in [*constraints, *indexes]}


def drop_prefixed_graph(driver: neo4j.Driver, labels: GraphLabels) -> None:
    """Delete every node and constraint of a label prefix (tests, benchmark). Never the unprefixed graph."""
    if not labels.prefix:
        raise ValueError("Refusing to wipe the unprefixed (production) graph.")
    with graph_errors(), driver.session() as session:
        for label in [labels.user, *(labels.item(ct) for ct in ContentType)]:
            # Small transactions: a user may have thousands of relationships.
            session.run(f"MATCH (n:`{label}`) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 1000 ROWS").consume()
        for name in labels.constraints():
            session.run(f"DROP CONSTRAINT `{name}` IF EXISTS").consume()
