"""Serializer fields that take exactly the JSON type the OpenAPI schema names.

DRF's own fields coerce: ``CharField`` takes 123 as "123" and trims whitespace, ``IntegerField`` takes "5" and
5.0, ``FloatField`` takes "2.5", ``BooleanField`` takes 0, "yes" and "off". The schema says ``type: string``
(``integer``, ``number``, ``boolean``), and a request it forbids must not be accepted (the fuzz test's
``negative_data_rejection``), so request bodies use these.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A JSON string, kept as sent (no trimming: " tt0111161" is not an item id)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (not true/false, not "5", not 5.0)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictFloatField(serializers.FloatField):
    """A JSON number (not true/false, not "2.5")."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return float(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` (not 0, 1, "yes", "off")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data
