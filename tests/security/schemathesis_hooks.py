"""Schemathesis hooks of the fuzz test: keep out of the generated requests what JSON Schema cannot state.

Loaded by the ``schemathesis`` command through ``SCHEMATHESIS_HOOKS`` (tests/security/test_schema_fuzz.py). Each
rule below is a constraint the server enforces and the schema describes in words (recommendations/api/schema.py)
but cannot express: it depends on the data, on two fields at once, or on the clock. A generated request that
breaks one is dropped, whether it was meant to be valid or not: for a valid one the server's 400 would be right,
and for an invalid one the rule adds nothing to what makes it invalid. Everything else is the schema's.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

# The catalog's genres per type (the fuzz test's seeded store): {"movies": ["Action", ...], ...}.
GENRES: dict[str, set[str]] = {
    ct: {genre.casefold() for genre in names} for ct, names in json.loads(os.environ["MUSICBUD_FUZZ_GENRES"]).items()
}
MAX_GENRES = 20
MAX_EXCLUDE = 100
MAX_AGE = timedelta(days=7)
MAX_SKEW = timedelta(seconds=300)
# Generated a little before it is sent: a created_at this close to a bound may cross it on the way.
CLOCK_MARGIN = timedelta(seconds=60)


def _values(query: dict[str, Any], name: str) -> list[str]:
    value = query.get(name)
    values = value if isinstance(value, list) else [value] if value is not None else []
    return [v for v in values if isinstance(v, str)]


def _query_ok(path: str, query: dict[str, Any]) -> bool:
    parts = path.strip("/").split("/")
    content_type = parts[2] if len(parts) > 2 else ""  # /v1/recommendations/<type>/...
    genres = {p.strip().casefold() for v in _values(query, "genre") for p in v.split(",") if p.strip()}
    if genres and (len(genres) > MAX_GENRES or not genres <= GENRES.get(content_type, set())):
        return False
    if len({p for v in _values(query, "exclude") for p in v.split(",") if p}) > MAX_EXCLUDE:
        return False
    low, high = query.get("year_min"), query.get("year_max")
    return not (isinstance(low, int) and isinstance(high, int) and low > high)


def _event_ok(event: Any, now: datetime) -> bool:
    if not isinstance(event, dict):
        return True
    value, scale = event.get("value"), event.get("scale")
    if isinstance(value, int | float) and isinstance(scale, int | float) and value > scale:
        return False
    created_at = event.get("created_at")
    if isinstance(created_at, str):
        try:
            moment = datetime.fromisoformat(created_at)
        except ValueError:
            return True  # not a date-time: the schema says it is invalid
        if moment.tzinfo is not None and not (now - MAX_AGE + CLOCK_MARGIN <= moment <= now + MAX_SKEW - CLOCK_MARGIN):
            return False
    return True


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> bool:
    if isinstance(case.query, dict) and not _query_ok(case.operation.path, case.query):
        return False
    body = case.body
    if case.operation.path == "/v1/recommendations/events/" and isinstance(body, dict):
        batch = body.get("events")
        events = batch if isinstance(batch, list) else [body]
        now = datetime.now(UTC)
        return all(_event_ok(event, now) for event in events)
    return True
