"""Tables of the recommender: the built-in interaction store (Item, Interaction) and the training runs.

The built-in interaction store holds the same data as the Neo4j graph, in the Django database.

It mirrors the graph's semantics exactly: one catalog row per (content type, external id) and one
interaction per (user, item, kind); recording an interaction again updates its value and timestamp
(an upsert on the unique constraint, like MERGE in the graph).

``user_id`` is the Django user's id but deliberately not a foreign key: the graph cannot reference this
database either, and imported datasets (MovieLens, MyAnimeList) bring user ids that have no account.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .domain import ContentType, InteractionKind

# The domain enums stay free of Django (the engine imports them), so the choices are built here.
CONTENT_TYPE_CHOICES = [(ct.value, ct.value) for ct in ContentType]
KIND_CHOICES = [(kind.value, kind.name.lower()) for kind in InteractionKind]


class Item(models.Model):
    content_type = models.CharField(max_length=8, choices=CONTENT_TYPE_CHOICES)
    # IMDb "tt…" or MyAnimeList number, as a string (validated by recommendations.data.validation).
    external_id = models.CharField(max_length=16)
    title = models.CharField(max_length=512)
    genres = models.JSONField(default=list)
    year = models.SmallIntegerField(null=True, blank=True)
    # A picture of the item (http or https), where the imported data has one.
    image_url = models.CharField(max_length=1000, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "external_id"], name="rec_item_type_external_id_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type}:{self.external_id} {self.title}"


class CatalogEntry(Item):
    """The admin's catalog pages (search, hide, similar items) and their permissions.

    A proxy for a URL and permissions only: the pages read the configured store's catalog (Neo4j or this
    table) through the data service, never this table directly.
    """

    class Meta:
        proxy = True
        verbose_name = "catalog item"
        verbose_name_plural = "catalog"


class HiddenItem(models.Model):
    """An item an operator took out of circulation: it is in no list, page or similar-items answer until
    un-hidden (``recommendations.hiding``). Models keep it (un-hiding needs no retraining).

    Here, not in the store, for both stores alike: hiding is this service's serving rule, not catalog data.
    MusicBud's graph nodes are MusicBud's (its importers rewrite them), the flag must survive a catalog
    re-import, and who hid what and when is an operator's record like the training logs.
    ``item_id`` is the external id, not a foreign key: with Neo4j the catalog is not in this database.
    """

    content_type = models.CharField(max_length=8, choices=CONTENT_TYPE_CHOICES)
    item_id = models.CharField(max_length=16)
    hidden_at = models.DateTimeField(default=timezone.now)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "item_id"], name="rec_hidden_item_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type}:{self.item_id} hidden"


class Interaction(models.Model):
    user_id = models.BigIntegerField()
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="interactions")
    # Copied from the item (never changes) so time-window counts per type need no join.
    content_type = models.CharField(max_length=8, choices=CONTENT_TYPE_CHOICES)
    kind = models.SmallIntegerField(choices=KIND_CHOICES)
    value = models.FloatField(null=True, blank=True)  # rank (TOP_LIST) or score (RATED); NULL otherwise
    timestamp = models.BigIntegerField()  # unix seconds, UTC, as in InteractionArrays

    class Meta:
        constraints = [
            # Also the index of a user's history (leading user_id).
            models.UniqueConstraint(fields=["user_id", "item", "kind"], name="rec_interaction_user_item_kind_uniq"),
        ]
        indexes = [
            # Popular and trending: events of one type inside a time window.
            models.Index(fields=["content_type", "timestamp"], name="rec_interaction_type_ts_idx"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} {InteractionKind(self.kind).name} {self.item_id}"


class TrainingStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (data unchanged)"
    # Not a training: an operator put an older kept version back into service (recommendations.publishing).
    ROLLED_BACK = "rolled_back", "Rolled back"


class TrainingLog(models.Model):
    """One training run of one content type's model, from start to its outcome."""

    content_type = models.CharField(max_length=16, choices=CONTENT_TYPE_CHOICES)
    status = models.CharField(max_length=16, choices=TrainingStatus.choices, default=TrainingStatus.RUNNING)
    triggered_by = models.CharField(max_length=32, help_text="cli, cron, api:<user>, admin:<user>")
    started_at = models.DateTimeField(default=timezone.now)
    # Refreshed every TRAINING_HEARTBEAT_S by the process running it; empty while the run waits in the queue.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    users = models.PositiveIntegerField(null=True, blank=True)
    items = models.PositiveIntegerField(null=True, blank=True)
    interactions = models.PositiveIntegerField(null=True, blank=True)
    k = models.PositiveSmallIntegerField(default=10)
    auc = models.FloatField(null=True, blank=True)
    precision_at_k = models.FloatField(null=True, blank=True)
    recall_at_k = models.FloatField(null=True, blank=True)
    ndcg_at_k = models.FloatField(null=True, blank=True)
    # Everything else the evaluation measured, e.g. the popularity baseline beside the model.
    metrics = models.JSONField(default=dict, blank=True)
    model_version = models.CharField(max_length=64, blank=True, default="")
    data_fingerprint = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["content_type", "-started_at"], name="training_type_started_idx")]
        constraints = [
            # The training lock: at most one running run per content type, enforced by the database
            # for every process and machine (recommendations.training.acquire_training).
            models.UniqueConstraint(
                fields=["content_type"],
                condition=models.Q(status="running"),
                name="training_one_running_per_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.content_type} {self.status} {self.started_at:%Y-%m-%d %H:%M} UTC"


class ServedModel(TrainingLog):
    """The admin's models page (per type: the served version, the kept ones, roll back) and its permissions.

    A proxy for a URL and permissions only: the page reads the models on disk and their training logs.
    """

    class Meta:
        proxy = True
        verbose_name = "served model"
        verbose_name_plural = "models"


class PendingInteraction(models.Model):
    """The outbox: an accepted feedback event's change to the interaction store, not applied yet.

    Written in the transaction that stores the event, deleted once the store has the change (see
    ``recommendations.outbox``): the stored event, not the client's retry, is what gets it applied.
    """

    user_id = models.BigIntegerField()
    content_type = models.CharField(max_length=8, choices=CONTENT_TYPE_CHOICES)
    item_id = models.CharField(max_length=16)
    kind = models.SmallIntegerField(choices=KIND_CHOICES)
    # A removal (unlike, off the watchlist or a top list) deletes the interaction instead of recording it.
    remove = models.BooleanField(default=False)
    value = models.FloatField(null=True, blank=True)
    timestamp = models.BigIntegerField()  # the event's time (unix seconds), recorded on the interaction
    accepted_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0, help_text="failed tries to apply it")
    last_error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        # A user's changes in the order they were accepted: the order they are applied in.
        indexes = [models.Index(fields=["user_id", "id"], name="rec_pending_user_order_idx")]

    def __str__(self) -> str:
        action = "remove" if self.remove else "record"
        return f"{action} {InteractionKind(self.kind).name} {self.content_type}:{self.item_id} of user {self.user_id}"


class BudOptOut(models.Model):
    """A user who asked not to be matched: they appear in nobody's buds and are shown none."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="bud_opt_out"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"user {self.user_id} hidden from buds"


def _new_public_id() -> str:
    return uuid.uuid4().hex


class PublicUserId(models.Model):
    """A user's public id: what the app's bud lists call them (``uid``) when the graph has no ``ParentUser.uid``
    for them. Never the database key, which would leak how many accounts there are and who joined when; uuid4
    hex, the format of MusicBud's own ``ParentUser.uid``. Created on first need (``public_ids.public_uids``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="public_id"
    )
    uid = models.CharField(max_length=32, unique=True, default=_new_public_id)

    def __str__(self) -> str:
        return f"user {self.user_id} is {self.uid}"


class ForgottenUser(models.Model):
    """A user whose data was erased: models whose data was read before ``forgotten_at`` still hold their
    rows, so serving masks them in those models (``recommendations.forgetting``). Only the id and the time
    are kept, and no foreign key: the mask outlives the account."""

    user_id = models.BigIntegerField(primary_key=True)
    forgotten_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"user {self.user_id} forgotten at {self.forgotten_at:%Y-%m-%d %H:%M}"


# --- What a graph without timestamps or without some relationship types needs from us --------------------
# Both belong to one graph (``namespace``: profile and label prefix, recommendations.data.neo4j_schema).


class GraphSighting(models.Model):
    """When this service first saw each relationship of one person in a graph whose relationships carry no time.

    One row per person and content type: the person's edges as sorted int64 codes (item rank * 8 + kind,
    recommendations/data/sightings.py) and the first-seen unix time of each, both as raw little-endian
    arrays. One row per person, not per edge: a million edges load in one small query instead of a million
    rows, and a user's history still reads one row.
    """

    namespace = models.CharField(max_length=64)
    content_type = models.CharField(max_length=8, choices=CONTENT_TYPE_CHOICES)
    person = models.CharField(max_length=128)  # the person's key in the graph (MusicBud: ParentUser.uid)
    codes = models.BinaryField()
    first_seen = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["namespace", "content_type", "person"], name="rec_sighting_person_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace} {self.content_type} {self.person}"


class GraphSideInteraction(models.Model):
    """An interaction of a kind the graph has no relationship for (a dislike in MusicBud's graph), kept here.

    The same semantics as ``Interaction``: one per (user, item, kind), recording again updates it. The item
    lives in the graph's catalog, so it is its external id, not a foreign key.
    """

    namespace = models.CharField(max_length=64)
    content_type = models.CharField(max_length=8, choices=CONTENT_TYPE_CHOICES)
    user_id = models.BigIntegerField()
    item_id = models.CharField(max_length=16)
    kind = models.SmallIntegerField(choices=KIND_CHOICES)
    value = models.FloatField(null=True, blank=True)
    timestamp = models.BigIntegerField()

    class Meta:
        constraints = [
            # Also the index of a user's history (namespace, type, user).
            models.UniqueConstraint(
                fields=["namespace", "content_type", "user_id", "item_id", "kind"], name="rec_side_interaction_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace} user {self.user_id} {InteractionKind(self.kind).name} {self.item_id}"


class PendingInvalidation(models.Model):
    """A cache invalidation that did not reach the cache (``recommendations.caching``): retried until it does.

    One row per cache key, whatever the number of failed attempts: bumping a generation once, or deleting a key
    once, does what any number of them would. ``recorded_at`` changes when the key fails again, so a retry that
    read the row before deletes it only if nothing failed meanwhile.
    """

    key = models.CharField(max_length=200, unique=True)
    action = models.CharField(max_length=8, choices=[("bump", "bump the generation"), ("delete", "delete")])
    recorded_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.action} {self.key} (since {self.recorded_at:%Y-%m-%d %H:%M:%S})"
