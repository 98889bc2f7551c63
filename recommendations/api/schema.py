"""What drf-spectacular cannot derive from the serializers, added to the OpenAPI schema after it is generated.

The schema must say every constraint the server enforces, so that a request it allows is never refused and one
it forbids is never accepted (tests/security/test_schema_fuzz.py runs schemathesis' positive/negative checks):

- **One path per content type.** The routes take ``<content_type>`` (an unknown type is 404), but what a request
  may carry depends on it: item ids have the type's format (``exclude``, similar items' ``item_id``), only movies
  have release years (``year_min``/``year_max``), the latest list cannot be diversified. Each
  ``{content_type}`` path becomes three, with the type's own parameters.
- **Events by kind and type** (``oneOf``): the item id format, which kinds the type has, and which extra fields
  an event takes (``value``/``scale`` for ``rated``, ``rank`` for ``top_list_add``, none otherwise), all taken
  from the code that validates them (``recommendations.feedback``, ``data.validation``, ``analytics.services``).
- **A bud named** in the app's common-items calls (``/v1/bud/common/...``): a body with ``bud_id`` or
  ``username`` (``anyOf``), no NUL character in either.
- **Non-blank credentials**: DRF trims the token endpoints' strings, so all-whitespace is blank (400).
- **Links** for stateful testing and clients: a training run's id to its status, a login's refresh token to the
  refresh endpoint, an item of a page or list to its similar items.

What JSON Schema cannot state is said in the descriptions and kept out of the fuzz run's generated requests
(tests/security/schemathesis_hooks.py): a genre must be one the catalog has (data), ``year_min`` <= ``year_max``
and a rating's ``value`` <= its ``scale`` (two fields), at most 100 distinct ids over every ``exclude`` value and
20 distinct genres (comma-joined values), and an event's ``created_at`` within the accepted window (now).
"""

from __future__ import annotations

import copy
from typing import Any

from analytics.services import MAX_BATCH, MAX_ID_LENGTH, MAX_POSITION
from recommendations.data.validation import ALLOWED_KINDS, MAX_RANK, item_id_pattern
from recommendations.domain import ContentType
from recommendations.feedback import EVENT_FIELDS, FEEDBACK, MAX_CLIENT_SCALE, MIN_RATING, RATING_SCALES
from recommendations.filtering import MAX_EXCLUDE

Schema = dict[str, Any]
ANALYTICS_EVENTS = ("view", "click", "skip")
NULL_ONLY: Schema = {"nullable": True, "enum": [None], "description": "this kind of event takes none"}
# DRF's strings never take a NUL character; trimmed ones (the token endpoints', genre) are blank when all
# whitespace: at least one character that is not (Python's \S, as the server's str.strip() sees whitespace).
NO_NUL = r"^[^\u0000]*$"
NOT_BLANK = r"^[^\u0000]*\S[^\u0000]*$"


def postprocess(result: Schema, generator: Any, request: Any, public: bool) -> Schema:
    """drf-spectacular's POSTPROCESSING_HOOKS entry."""
    split_content_type_paths(result)
    result["components"]["schemas"].update(event_schemas())
    # drf-spectacular cannot tell from the either-or serializer that a body is needed: without one it is a 400.
    result["paths"]["/v1/recommendations/events/"]["post"]["requestBody"]["required"] = True
    require_non_blank(result["components"]["schemas"])
    require_a_bud(result)
    add_links(result["paths"])
    return result


# --- one path per content type --------------------------------------------------------------------------


def split_content_type_paths(result: Schema) -> None:
    paths: dict[str, Any] = result["paths"]
    for path in [p for p in paths if "{content_type}" in p]:
        operations = paths.pop(path)
        for ct in ContentType:
            paths[path.replace("{content_type}", ct.value)] = {
                method: _for_type(operation, ct, latest=path.endswith("/latest/"))
                for method, operation in operations.items()
            }


def _for_type(operation: Schema, ct: ContentType, *, latest: bool) -> Schema:
    operation = copy.deepcopy(operation)
    operation["operationId"] = f"{operation['operationId']}_{ct.value}"
    dropped = {"content_type"}
    if ct is not ContentType.MOVIES:
        dropped |= {"year_min", "year_max"}  # 400 invalid_filter: only movies have release years
    if latest:
        dropped.add("diversity")  # 400 invalid_filter: the latest list is not ranked by a model
    parameters = []
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if name in dropped:
            continue
        if name == "exclude":
            parameter["schema"]["items"] = {"type": "string", "minLength": 1, "pattern": _id_list_pattern(ct)}
            parameter["description"] = (
                f"{ct.value} ids to hide, repeatable or comma-separated: at most {MAX_EXCLUDE} distinct ids in all"
            )
        elif name == "item_id":
            parameter["schema"] = {"type": "string", "pattern": f"^{item_id_pattern(ct)}$"}
        elif name == "genre":
            parameter["schema"]["items"]["pattern"] = NOT_BLANK
            parameter["description"] = (
                "repeatable or comma-separated: items with any of these genres, as the type's catalog names them "
                "(any letter case; an unknown one is 400 unknown_genre), at most 20 distinct"
            )
        elif name == "year_min":
            parameter["description"] = "movies released in or after this year (at most year_max)"
        parameters.append(parameter)
    operation["parameters"] = parameters
    return operation


def _id_list_pattern(ct: ContentType) -> str:
    """Ids of the type separated by commas, empty parts allowed (``a,,b``, ``,``), nothing else."""
    one = f"(?:{item_id_pattern(ct)})"
    return f"^,*(?:{one}(?:,+{one})*)?,*$"


# --- events ---------------------------------------------------------------------------------------------


def event_schemas() -> dict[str, Schema]:
    """EventInputRequest as a oneOf of one variant per type and shape, and the batch and the either-or of them."""
    variants: dict[str, Schema] = {}
    for ct in ContentType:
        changes = [event for event, (kind, _) in FEEDBACK.items() if kind in ALLOWED_KINDS[ct]]
        plain = [*ANALYTICS_EVENTS, *(event for event in changes if event not in EVENT_FIELDS)]
        name = ct.value.capitalize()
        variants[f"{name}Event"] = _event(ct, plain, value=NULL_ONLY, scale=NULL_ONLY, rank=NULL_ONLY)
        if "rated" in changes:
            top = RATING_SCALES[ct]
            variants[f"{name}RatedEvent"] = _event(
                ct, ["rated"], value=_rating(top, f"at least {MIN_RATING:g}, at most the type's scale ({top:g})"),
                scale=NULL_ONLY, rank=NULL_ONLY, required=["value"],
            )  # fmt: skip
            variants[f"{name}RatedOnScaleEvent"] = _event(
                ct, ["rated"], value=_rating(MAX_CLIENT_SCALE, f"at least {MIN_RATING:g}, at most scale"),
                scale={"type": "number", "minimum": 1, "maximum": MAX_CLIENT_SCALE,
                       "description": "the top of the client's rating scale (5, 10, 100...)"},
                rank=NULL_ONLY, required=["value", "scale"],
            )  # fmt: skip
        if "top_list_add" in changes:
            variants[f"{name}TopListEvent"] = _event(
                ct, ["top_list_add"], value=NULL_ONLY, scale=NULL_ONLY,
                rank={"type": "integer", "minimum": 1, "maximum": int(MAX_RANK), "description": "1 = the favourite"},
                required=["rank"],
            )  # fmt: skip
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in variants]
    return {
        **variants,
        "EventInputRequest": {"oneOf": refs, "description": "one event; its fields depend on its type and kind"},
        "EventBatchRequest": {
            "type": "object",
            "properties": {"events": {"type": "array", "items": {"oneOf": refs}, "minItems": 1, "maxItems": MAX_BATCH}},
            "required": ["events"],
        },
        # A body with ``events`` is a batch, whatever else it has.
        "EventOrBatchRequest": {
            "oneOf": [
                {"allOf": [{"$ref": "#/components/schemas/EventInputRequest"}, {"not": {"required": ["events"]}}]},
                {"$ref": "#/components/schemas/EventBatchRequest"},
            ]
        },
    }


def _rating(top: float, description: str) -> Schema:
    return {"type": "number", "minimum": MIN_RATING, "maximum": top, "description": description}


def _event(ct: ContentType, events: list[str], *, value: Schema, scale: Schema, rank: Schema,
           required: list[str] | None = None) -> Schema:  # fmt: skip
    return {
        "type": "object",
        "properties": {
            "client_event_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": NO_NUL,
                                "description": "the client's id of the event: a retry with the same id is stored once"},
            "content_type": {"type": "string", "enum": [ct.value]},
            "item_id": {"type": "string", "pattern": f"^{item_id_pattern(ct)}$"},
            "event": {"type": "string", "enum": events},
            "position": {"type": "integer", "minimum": 0, "maximum": MAX_POSITION, "nullable": True},
            "model_version": {"type": "string", "maxLength": MAX_ID_LENGTH, "pattern": NO_NUL, "default": ""},
            "created_at": {
                "type": "string", "format": "date-time", "nullable": True,
                "description": "when it happened (client clock, with a time zone): at most EVENTS_MAX_AGE_DAYS "
                "(7) days old, at most EVENTS_MAX_CLOCK_SKEW_S (300 s) ahead; default now",
            },
            "value": value,
            "scale": scale,
            "rank": rank,
        },
        "required": ["client_event_id", "content_type", "item_id", "event", *(required or [])],
    }  # fmt: skip


# --- credentials, links ---------------------------------------------------------------------------------


def require_non_blank(schemas: dict[str, Schema]) -> None:
    for component, field in (("TokenObtainRequest", "username"), ("TokenObtainRequest", "password"),
                             ("TokenRefreshUserRequest", "refresh")):  # fmt: skip
        schemas[component]["properties"][field]["pattern"] = NOT_BLANK


def require_a_bud(result: Schema) -> None:
    """The app's common-items calls need a body naming the bud by ``bud_id`` or ``username`` (either, or both)."""
    reference = result["components"]["schemas"]["BudReferenceRequest"]
    for field in ("bud_id", "username"):
        reference["properties"][field]["pattern"] = NO_NUL
    reference["anyOf"] = [{"required": ["bud_id"]}, {"required": ["username"]}]
    for path, operations in result["paths"].items():
        if path.startswith("/v1/bud/common/"):
            operations["post"]["requestBody"]["required"] = True


def add_links(paths: dict[str, Any]) -> None:
    _link(paths["/v1/recommendations/train/models/"]["post"], "202", "TrainingRun",
          "recommendations_train_models_retrieve", parameters={"run_id": "$response.body#/runs/0/id"})  # fmt: skip
    _link(paths["/v1/auth/token/"]["post"], "200", "Refresh", "auth_token_refresh_create",
          request_body={"refresh": "$response.body#/refresh"})  # fmt: skip
    for ct in ContentType:
        similar = f"recommendations_similar_retrieve_{ct.value}"
        for path in (f"/v1/recommendations/{ct.value}/", *(f"/v1/recommendations/{ct.value}/{name}/"
                                                           for name in ("popular", "trending", "latest"))):  # fmt: skip
            _link(paths[path]["get"], "200", "SimilarItems", similar,
                  parameters={"item_id": "$response.body#/items/0/item_id"})  # fmt: skip


def _link(operation: Schema, status: str, name: str, operation_id: str, *, parameters: Schema | None = None,
          request_body: Schema | None = None) -> None:  # fmt: skip
    link: Schema = {"operationId": operation_id}
    if parameters:
        link["parameters"] = parameters
    if request_body:
        link["requestBody"] = request_body
    operation["responses"][status].setdefault("links", {})[name] = link
