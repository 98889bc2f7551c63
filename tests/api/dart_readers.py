"""What the MusicBud app's ``fromJson`` factories read, field by field, with Dart's casts (musicbud/flutter
``31c49e7``).

``json['x'] as String`` fails on anything but a string (null included); ``as String?`` takes null or a missing key;
``as int`` takes an integer only (a Dart double is not an int), ``as bool`` a boolean only. A reader raises
``DartCastError`` where the app would throw, and returns what the app keeps.
"""

from __future__ import annotations

from typing import Any


class DartCastError(AssertionError):
    pass


def _cast(json: dict[str, Any], key: str, kind: type | tuple[type, ...], *, nullable: bool) -> Any:
    if not isinstance(json, dict):
        raise DartCastError(f"not a Map<String, dynamic>: {json!r}")
    value = json.get(key)
    if value is None and nullable:
        return None
    # Python's bool is an int; Dart's is not.
    if isinstance(value, bool) and kind is not bool:
        raise DartCastError(f"{key}: {value!r} is not {kind}")
    if not isinstance(value, kind):
        raise DartCastError(f"{key}: {value!r} is not {kind}")
    return value


def read_bud_search_result(json: Any) -> dict[str, Any]:
    """lib/models/bud_search_result.dart: BudSearchResult.fromJson, BudSearchData.fromJson, BudSearchItem.fromJson."""
    data = _cast(json, "data", dict, nullable=False)
    buds = _cast(data, "buds", list, nullable=True) or []
    return {
        "message": _cast(json, "message", str, nullable=False),
        "code": _cast(json, "code", int, nullable=False),
        "successful": _cast(json, "successful", bool, nullable=False),
        "data": {
            "buds": [read_bud_search_item(bud) for bud in buds],
            **{
                key: _cast(data, key, int, nullable=True)
                for key in (
                    "totalCommonTracksCount",
                    "totalCommonArtistsCount",
                    "totalCommonGenresCount",
                    "totalCommonAlbumsCount",
                )
            },
        },
    }


def read_bud_search_item(json: Any) -> dict[str, Any]:
    uid = _cast(json, "uid", str, nullable=True) or _cast(json, "bud_uid", str, nullable=True) or ""
    item = {
        "uid": uid,
        "email": _cast(json, "email", str, nullable=True),
        "country": _cast(json, "country", str, nullable=True),
        "display_name": _cast(json, "display_name", str, nullable=False),
        "bio": _cast(json, "bio", str, nullable=True),
        "is_active": _cast(json, "is_active", bool, nullable=False),
        "is_authenticated": _cast(json, "is_authenticated", bool, nullable=True),
    }
    counts = {"commonTracksCount": "common_tracks_count", "commonArtistsCount": "common_artists_count",
              "commonGenresCount": "common_genres_count", "commonAlbumsCount": "common_albums_count"}  # fmt: skip
    for camel, snake in counts.items():
        item[camel] = _cast(json, camel, int, nullable=True) or _cast(json, snake, int, nullable=True)
    for name in ("commonTracks", "commonArtists", "commonGenres", "commonAlbums"):
        item[name] = _cast(json, name, list, nullable=True)
    return item


def read_common_content(json: Any, *, extra_ints: tuple[str, ...]) -> dict[str, Any]:
    """lib/models/common_anime.dart (extra ints: episodes) and common_manga.dart (chapters, volumes) fromJson."""
    genres = _cast(json, "genres", list, nullable=True)
    images = _cast(json, "image_urls", list, nullable=True)
    for value in [*(genres or []), *(images or [])]:
        if not isinstance(value, str):
            raise DartCastError(f"{value!r} is not a String")
    score = _cast(json, "score", (int, float), nullable=True)
    read = {
        "id": _cast(json, "id", str, nullable=False),
        "uid": _cast(json, "uid", str, nullable=True) or "",
        "title": _cast(json, "title", str, nullable=False),
        "source": _cast(json, "source", str, nullable=True),
        "mal_id": _cast(json, "mal_id", str, nullable=True),
        "popularity": _cast(json, "popularity", int, nullable=True),
        "is_liked": _cast(json, "is_liked", bool, nullable=True) or False,
        "genres": genres,
        "image_urls": images,
        "image_url": _cast(json, "image_url", str, nullable=True),
        "status": _cast(json, "status", str, nullable=True),
        "synopsis": _cast(json, "synopsis", str, nullable=True),
        "description": _cast(json, "description", str, nullable=True),
        "score": float(score) if score is not None else None,
        "type": _cast(json, "type", str, nullable=True),
        "year": _cast(json, "year", int, nullable=True),
    }
    for name in extra_ints:
        read[name] = _cast(json, name, int, nullable=True)
    return read


def read_common_list(body: Any, *, extra_ints: tuple[str, ...]) -> list[dict[str, Any]]:
    """``json.decode(response.body)`` as ``List<dynamic>``, each element through the model's fromJson."""
    if not isinstance(body, list):
        raise DartCastError(f"the body is not a List: {body!r}")
    return [read_common_content(item, extra_ints=extra_ints) for item in body]
