"""Batch output for email and push campaigns: many users' top-k of one type, streamed to a file.

The batch scoring path (``Recommender.recommend_batch``: matrix products over chunks of users, on every
CPU; ``exact``, so a user's list and scores are the same whatever the chunk size or the CPU's BLAS kernel)
runs over ``CHUNK_USERS`` users at a time, and each chunk is written before the next is read, so memory
is bounded by one chunk whatever the number of users: the chunk's ids and its ``users x limit`` results,
plus the scorer's own ``256 x items`` blocks; the ids come from the model's (memory-mapped) id array or are
read from the file a chunk at a time.

A user the model does not know gets the model's popular items (``source: popularity``), as does a user
forgotten since the model's data was read (``recommendations.forgetting``): their row is never used. Items
a user had at training time are never exported for them (the batch path excludes them); interactions since
the model was trained are not read: a campaign goes out from the nightly model. Items hidden when the export
starts (``recommendations.hiding``) are exported for nobody.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Literal, TextIO

import numpy as np
import numpy.typing as npt

from musicbud.errors import InvalidInput
from recommendations import forgetting, hiding, recommending
from recommendations.domain import ContentType
from recommendations.engine import ModelArtifact, Recommender

CHUNK_USERS = 10_000
MAX_LIMIT = 100
ExportFormat = Literal["jsonl", "csv"]
CSV_HEADER = ("user_id", "content_type", "model_version", "source", "rank", "item_id", "score")


class NothingToExport(InvalidInput):
    code = "nothing_to_export"
    default_message = "There is no model of this type to export recommendations from."


@dataclass
class ExportSummary:
    model_version: str
    users: int = 0
    from_model: int = 0
    from_popularity: int = 0


def _chunks(user_ids: Iterable[int]) -> Iterator[npt.NDArray[np.int64]]:
    iterator = iter(user_ids)
    while chunk := list(islice(iterator, CHUNK_USERS)):
        yield np.asarray(chunk, dtype=np.int64)


def _model_chunks(artifact: ModelArtifact) -> Iterator[npt.NDArray[np.int64]]:
    for start in range(0, artifact.n_users, CHUNK_USERS):
        yield np.asarray(artifact.user_ids[start : start + CHUNK_USERS], dtype=np.int64)


def export_recommendations(
    *,
    content_type: ContentType,
    user_ids: Iterable[int] | None,
    limit: int,
    fmt: ExportFormat,
    out: TextIO,
    progress: Callable[[int], None] | None = None,
) -> ExportSummary:
    """Write ``limit`` recommendations per user (every user the model knows for ``user_ids`` None) to ``out``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    artifact = recommending.current_model(content_type)
    if artifact is None:
        raise NothingToExport(content_type=content_type.value)
    recommender = Recommender(artifact)
    masked = forgetting.all_masked_in(artifact)
    allowed = hiding.model_allowed(artifact, None, frozenset(hiding.stored_hidden_ids(content_type)))
    summary = ExportSummary(model_version=artifact.version)
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_HEADER)
    head = f'"content_type": "{content_type.value}", "model_version": "{artifact.version}"'
    chunks = _model_chunks(artifact) if user_ids is None else _chunks(user_ids)
    for chunk in chunks:
        scored = chunk.copy()
        if masked:
            # -1 is no user of any model: the batch path serves it popularity, as for an unknown user.
            scored[np.isin(chunk, np.fromiter(masked, dtype=np.int64, count=len(masked)))] = -1
        batch = recommender.recommend_batch(scored, k=limit, allowed=allowed, exact=True)
        for row, user_id in enumerate(chunk.tolist()):
            source = "popularity" if batch.from_popularity[row] else "model"
            picks = [
                (str(artifact.item_ids[item]), round(float(score), 6), rank)
                for rank, (item, score) in enumerate(zip(batch.item_indices[row], batch.scores[row], strict=True), 1)
                if item >= 0
            ]
            if writer is not None:
                writer.writerows((user_id, content_type.value, artifact.version, source, r, i, s) for i, s, r in picks)
            else:
                items = json.dumps([{"item_id": i, "score": s, "rank": r} for i, s, r in picks])
                out.write(f'{{"user_id": {user_id}, {head}, "source": "{source}", "items": {items}}}\n')
            summary.from_popularity += source == "popularity"
        summary.users += chunk.shape[0]
        if progress is not None:
            progress(chunk.shape[0])
    summary.from_model = summary.users - summary.from_popularity
    return summary


def read_user_ids(lines: Iterable[str]) -> Iterator[int]:
    """User ids from a file, one per line (blank lines skipped); a bad line is an error naming it."""
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if not text.isdigit() or int(text) <= 0:
            raise InvalidInput(f"line {number} is not a user id: {text[:40]!r}", line=number)
        yield int(text)
