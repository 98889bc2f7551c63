"""Import the Kaggle "Anime Recommendations Database" (see recommendations/data/importers.py)."""

from __future__ import annotations

from pathlib import Path

from recommendations.data.importers import ImportReport, import_anime
from recommendations.data.store import InteractionStore

from ._importing import ImportCommand


class Command(ImportCommand):
    help = "Import the Kaggle MyAnimeList data (anime.csv + rating.csv) into the configured store."
    path_help = "folder holding anime.csv and rating.csv"

    def importer(self, store: InteractionStore, path: Path, *, user_offset: int, progress: bool) -> ImportReport:
        return import_anime(store, path, user_offset=user_offset, progress=progress)
