"""Import MovieLens ratings in their original format (see recommendations/data/importers.py)."""

from __future__ import annotations

from pathlib import Path

from recommendations.data.importers import ImportReport, import_movielens
from recommendations.data.store import InteractionStore

from ._importing import ImportCommand


class Command(ImportCommand):
    help = "Import MovieLens ratings (ml-100k u.data/u.item or ml-1m ratings.dat/movies.dat) into the configured store."
    path_help = "folder holding u.data + u.item (ml-100k) or ratings.dat + movies.dat (ml-1m)"

    def importer(self, store: InteractionStore, path: Path, *, user_offset: int, progress: bool) -> ImportReport:
        return import_movielens(store, path, user_offset=user_offset, progress=progress)
