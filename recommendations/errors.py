"""Typed errors of the interaction data service (stable codes; rendered by musicbud.errors)."""

from __future__ import annotations

from musicbud.errors import InvalidInput, NotFound


class UnknownContentType(NotFound):
    code = "unknown_content_type"
    default_message = "Unknown content type."


class InvalidItemId(InvalidInput):
    code = "invalid_item_id"
    default_message = "The item id is not valid for this content type."


class InvalidUserId(InvalidInput):
    code = "invalid_user_id"
    default_message = "The user id must be a positive integer."


class InvalidInteraction(InvalidInput):
    """A kind the content type does not have, or a value/timestamp out of range for the kind."""

    code = "invalid_interaction"
    default_message = "The interaction is not valid."


class ItemNotFound(NotFound):
    """Interactions reference catalog items; an item must be in the catalog before it is interacted with."""

    code = "item_not_found"
    default_message = "The item is not in the catalog."


class InvalidDataset(InvalidInput):
    """An import file is missing or is not in the format its importer reads."""

    code = "invalid_dataset"
    default_message = "The dataset cannot be imported."


class UnknownGenre(InvalidInput):
    """A genre filter names no genre of the type's catalog (``details``: the genre and the known ones)."""

    code = "unknown_genre"
    default_message = "The catalog of this type has no such genre."


class TooManyExcludes(InvalidInput):
    code = "too_many_excludes"
    default_message = "Too many item ids to exclude."


class InvalidFilter(InvalidInput):
    """A filter the list cannot apply (a year range on a type without years, year_min above year_max...)."""

    code = "invalid_filter"
    default_message = "The filter is not valid for this list."


class PersonNotFound(NotFound):
    """A write for a user who has no person (ParentUser) in MusicBud's graph: MusicBud creates people, we never do."""

    code = "person_not_found"
    default_message = "This user has no person in the MusicBud graph."
