"""The graph's labels (a profile's names behind a prefix), its schema and its errors.

Labels and relationship types cannot be query parameters in Cypher, so they are spliced into query
text; they only ever come from a graph profile (``graph_profiles.py``, whose names are checked as plain
identifiers) and a validated label prefix, never from input. Every value is a parameter.

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

from musicbud import graph
from musicbud.errors import GraphUnavailable

from ..domain import ContentType, InteractionKind
from .graph_profiles import NATIVE, NATIVE_REL_TYPES, GraphProfile

# The native profile's relationship type of each kind.
REL_TYPES: Mapping[InteractionKind, str] = NATIVE_REL_TYPES
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
    """``LIKED|WATCHED|…`` (native names) for a relationship pattern."""
    return "|".join(REL_TYPES[kind] for kind in kinds)


def kind_case(variable: str, reads: Mapping[str, InteractionKind] | None = None) -> str:
    """A Cypher expression giving the InteractionKind code of relationship ``variable``."""
    mapping = reads if reads is not None else {rel: kind for kind, rel in REL_TYPES.items()}
    whens = " ".join(f"WHEN '{rel}' THEN {int(kind)}" for rel, kind in mapping.items())
    return f"CASE type({variable}) {whens} END"


@dataclass(frozen=True)
class GraphLabels:
    """The labels of one graph: a profile's names, each behind an optional prefix (tests, staging)."""

    prefix: str = ""
    profile: GraphProfile = NATIVE

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"Label prefix {self.prefix!r} must be empty or like 'Test1'.")

    @property
    def user(self) -> str:
        return f"{self.prefix}{self.profile.user_label}"

    def item(self, ct: ContentType) -> str:
        return f"{self.prefix}{self.profile.content[ct].item.label}"

    def account(self, ct: ContentType) -> str:
        account = self.profile.content[ct].account
        assert account is not None, "only profiles with accounts have account labels"
        return f"{self.prefix}{account.label}"

    def account_labels(self, ct: ContentType) -> list[str]:
        account = self.profile.content[ct].account
        assert account is not None
        return [f"{self.prefix}{label}" for label in (account.label, *account.extra_labels)]

    def node_labels(self) -> list[str]:
        """Every label of this graph's nodes (what a wipe deletes)."""
        labels = [self.user, *(self.item(ct) for ct in ContentType)]
        if self.profile.accounts:
            labels += [self.account(ct) for ct in ContentType]
        labels += [self.picture(ct) for ct in ContentType if self.profile.content[ct].item.picture is not None]
        return list(dict.fromkeys(labels))

    def picture(self, ct: ContentType) -> str:
        picture = self.profile.content[ct].item.picture
        assert picture is not None, "only items with picture nodes have a picture label"
        return f"{self.prefix}{picture[1]}"

    @property
    def namespace(self) -> str:
        """This graph's name in our own tables (first-seen times, kinds the graph has no relationship for)."""
        return f"{self.profile.name}:{self.prefix}"

    def constraints(self) -> dict[str, tuple[str, str]]:
        """Constraint name -> (label, key property) of every uniqueness constraint."""
        lower = self.prefix.lower()
        profile = self.profile
        # Native: the user id is ours. MusicBud: a person is its uid (neomodel's UniqueIdProperty); its
        # username is not unique in their schema (their ``unique=True`` is not a neomodel option), so it
        # only gets an index.
        keyed = [(profile.user_label, "user_id" if not profile.accounts else "uid")]
        for ct in ContentType:
            mapping = profile.content[ct]
            keyed.append((mapping.item.label, mapping.item.key))
            if mapping.account is not None:
                keyed.append((mapping.account.label, mapping.account.key))
        named = {f"{lower}{label.lower()}_{key}_unique": (f"{self.prefix}{label}", key) for label, key in keyed}
        return named

    def indexes(self) -> dict[str, tuple[str, str]]:
        """Index name -> (label, property) of the node indexes that are not constraints."""
        if not self.profile.accounts:
            return {}
        lower = self.prefix.lower()
        label = self.profile.user_label
        return {f"{lower}{label.lower()}_username": (f"{self.prefix}{label}", "username")}


def query(text: str) -> neo4j.Query:
    """A query with the configured server-side timeout, so a stuck query fails instead of hanging."""
    return neo4j.Query(text, timeout=float(settings.NEO4J_QUERY_TIMEOUT))


@contextmanager
def graph_errors() -> Iterator[None]:
    """Turn the driver's connection, authentication and timeout failures into GraphUnavailable; right after the
    graph could not be reached, fail at once (``musicbud.graph.FAIL_FAST_S``)."""
    graph.refuse_while_unreachable()
    try:
        yield
    except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired) as exc:
        graph.note_unreachable()
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
    """Uniqueness constraints (each also the index of its key), lookup indexes, relationship time indexes.

    On a graph MusicBud's backend already set up, its own constraints on the same keys (neomodel's
    install_labels) satisfy these: ``IF NOT EXISTS`` then creates nothing.
    """
    statements = [
        f"CREATE CONSTRAINT `{name}` IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.`{key}` IS UNIQUE"
        for name, (label, key) in labels.constraints().items()
    ]
    statements += [
        f"CREATE INDEX `{name}` IF NOT EXISTS FOR (n:`{label}`) ON (n.`{key}`)"
        for name, (label, key) in labels.indexes().items()
    ]
    # Popular/trending count events in a time window: a range index per relationship type. Shared by
    # every label prefix (relationship types have none). A graph without timestamps has nothing to index.
    if labels.profile.timestamped:
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
        for label in labels.node_labels():
            # Small transactions: a user may have thousands of relationships.
            session.run(f"MATCH (n:`{label}`) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 1000 ROWS").consume()
        for name in labels.constraints():
            session.run(f"DROP CONSTRAINT `{name}` IF EXISTS").consume()
        for name in labels.indexes():
            session.run(f"DROP INDEX `{name}` IF EXISTS").consume()
