"""Users' public ids, as the app names buds: ``uid`` strings, never our database keys.

- On MusicBud's graph (``RECOMMENDATIONS_SOURCE=neo4j`` with ``NEO4J_GRAPH_PROFILE=musicbud``) a user's uid is
  their ``ParentUser.uid``, the id MusicBud's own backend and app use for a person; the person is found by
  username, the join ``recommendations.data.neo4j_accounts`` uses for everything else.
- Otherwise (the built-in store, the native graph, a user with no person in MusicBud's graph) it is the user's
  ``PublicUserId``, created on first need: stable, random, unrelated to the key.

Both directions read the graph first, then our rows, so an id handed out is resolved back the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError

from musicbud import graph
from recommendations.data.graph_profiles import get_profile
from recommendations.data.neo4j_schema import GraphLabels, graph_errors
from recommendations.models import PublicUserId

# MusicBud's ParentUser.uid and our PublicUserId.uid: 32 hex digits (uuid4 hex).
UID_MAX_LENGTH = 64


def _labels() -> GraphLabels:
    return GraphLabels(settings.NEO4J_LABEL_PREFIX, get_profile(settings.NEO4J_GRAPH_PROFILE))


def _on_musicbud_graph() -> bool:
    return settings.RECOMMENDATIONS_SOURCE == "neo4j" and _labels().profile.accounts


def _person_uids(usernames: Sequence[str]) -> dict[str, str]:
    """username -> ParentUser.uid of the people of MusicBud's graph with these usernames (one query)."""
    if not usernames:
        return {}
    label = _labels().user
    with graph_errors():
        records = (
            graph.get_driver()
            .execute_query(
                f"MATCH (p:`{label}`) WHERE p.username IN $names AND p.uid IS NOT NULL "
                "RETURN p.username AS username, min(p.uid) AS uid",
                {"names": list(usernames)},
            )
            .records
        )
    return {str(r["username"]): str(r["uid"]) for r in records}


def _person_username(uid: str) -> str | None:
    label = _labels().user
    with graph_errors():
        records = (
            graph.get_driver()
            .execute_query(f"MATCH (p:`{label}` {{uid: $uid}}) RETURN p.username AS username LIMIT 1", {"uid": uid})
            .records
        )
    return str(records[0]["username"]) if records and records[0]["username"] is not None else None


def _own_uids(user_ids: Sequence[int]) -> dict[int, str]:
    """Our public ids of these users, created where missing (two queries, plus one per new id)."""
    found = dict(PublicUserId.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "uid"))
    for user_id in [u for u in user_ids if u not in found]:
        try:
            row, _ = PublicUserId.objects.get_or_create(user_id=user_id)
        except IntegrityError:  # a concurrent request created it
            row = PublicUserId.objects.get(user_id=user_id)
        found[user_id] = row.uid
    return {int(user_id): str(uid) for user_id, uid in found.items()}


def public_uids(user_ids: Sequence[int]) -> dict[int, str]:
    """Each user's public id (sync: the ORM and the graph's sync driver; call it in a worker thread)."""
    if not user_ids:
        return {}
    usernames = dict(get_user_model().objects.filter(pk__in=list(user_ids)).values_list("pk", "username"))
    uids: dict[int, str] = {}
    if _on_musicbud_graph():
        persons = _person_uids([str(name) for name in usernames.values()])
        uids = {int(pk): persons[str(name)] for pk, name in usernames.items() if str(name) in persons}
    return uids | _own_uids([u for u in user_ids if u not in uids and u in usernames])


def user_of_public_uid(uid: str) -> int | None:
    """Our user id of a public id (None when nobody has it)."""
    if _on_musicbud_graph():
        username = _person_username(uid)
        if username is not None:
            found = user_of_username(username)
            if found is not None:
                return found
    row = PublicUserId.objects.filter(uid=uid).values_list("user_id", flat=True).first()
    return int(row) if row is not None else None


def user_of_username(username: str) -> int | None:
    pk = get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()
    return int(pk) if pk is not None else None
